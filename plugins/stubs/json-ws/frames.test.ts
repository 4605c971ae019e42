import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateJsonWsFrame } from '../../../core/generated/validators.js';
import { MAX_FORWARDS, readServerFrame } from './frames.js';

/**
 * The stub's hand-written frame reader against the schema's own validator (ajv, generated from
 * schemas/): on generated frames, valid and broken, both say the same. The arbitraries take
 * their patterns from the schema files, so a schema change that the reader misses fails here.
 */

const schema = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../schemas/${name}`, import.meta.url), 'utf8'));
const common = schema('common.schema.json').$defs;
const message = schema('message.schema.json').$defs;
const matching = (pattern: string) => fc.stringMatching(new RegExp(pattern, 'u'));

/** The frames a node sends; the others (auth, received, ping) are the client's. */
const SERVER = new Set(['ready', 'msg', 'ack', 'err', 'pong']);
const byTheSchema = (x: unknown) =>
  validateJsonWsFrame(x) && SERVER.has((x as { t: string }).t) && forwardsIn(x) <= MAX_FORWARDS;
const byTheStub = (x: unknown) => 't' in readServerFrame(JSON.stringify(x));

/** How deep `forward`s nest in a frame's message (the one bound the stub adds to the schema). */
function forwardsIn(x: unknown): number {
  let m = (x as { m?: { type?: unknown; body?: { message?: unknown } } }).m;
  let depth = 0;
  for (; m?.type === 'forward'; depth++) m = m.body?.message as typeof m;
  return depth;
}

/** Short strings, and strings about `max` code points long (ASCII, or any code point). */
const text = (max: number) =>
  fc.oneof(
    fc.constantFrom('', 'x'),
    fc.string({ maxLength: 8 }),
    fc.string({ unit: 'grapheme-ascii', minLength: max - 1, maxLength: max + 1 }),
    fc.string({ unit: 'binary', minLength: max - 1, maxLength: max + 1 }),
  );
const id = fc.oneof(
  matching(message.messageId.pattern).filter((s) => s.length <= 128),
  fc.string({
    minLength: 120,
    maxLength: 130,
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  }),
);
const address = fc.oneof(
  matching(common.userAddress.pattern),
  matching(common.hypertyAddress.pattern),
  matching(common.runtimeAddress.pattern),
  matching(common.domainAddress.pattern),
);
const json = fc.jsonValue({ maxDepth: 2 });
const resource = fc.option(text(513), { nil: undefined });
const bodies = (msg: fc.Arbitrary<unknown>): Record<string, fc.Arbitrary<Record<string, unknown>>> => ({
  create: fc.record({ resource, value: json }, { requiredKeys: ['value'] }),
  read: fc.record({ resource, attribute: resource }, { requiredKeys: [] }),
  update: fc.record({ resource, attribute: resource, value: json }, { requiredKeys: ['value'] }),
  delete: fc.record({ resource }, { requiredKeys: [] }),
  subscribe: fc.record({ attribute: resource }, { requiredKeys: [] }),
  unsubscribe: fc.record({ resource, attribute: resource }, { requiredKeys: [] }),
  response: fc.record(
    {
      code: fc.oneof(fc.constantFrom(99, 100, 200.5, 699, 700), fc.integer({ min: 99, max: 700 })),
      description: text(1025),
      value: json,
    },
    { requiredKeys: ['code'] },
  ),
  forward: fc.record({ message: msg }),
  execute: fc.record(
    {
      method: fc.oneof(
        matching(common.pluginName.pattern),
        matching(message.executeBody.properties.method.pattern),
      ),
      params: fc.oneof(fc.array(json), fc.dictionary(fc.string(), json)),
    },
    { requiredKeys: ['method'] },
  ),
});
const { msg } = fc.letrec<{ msg: Record<string, unknown> }>((tie) => ({
  msg: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    ...Object.entries(bodies(tie('msg'))).map(([type, body]) =>
      fc.record({ id, type: fc.constant(type), from: address, to: address, body }),
    ),
  ),
}));

const frame: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    t: fc.constant('ready'),
    address: matching(common.userAddress.pattern),
    hyperties: fc.oneof(
      fc.array(matching(common.hypertyAddress.pattern), { maxLength: 3 }),
      fc.array(fc.constant('hyperty://a.example/h'), { minLength: 63, maxLength: 65 }),
    ),
  }),
  fc.record({ t: fc.constant('msg'), m: msg }),
  fc.record({ t: fc.constant('ack'), ids: fc.array(id, { maxLength: 4 }) }),
  fc.record(
    {
      t: fc.constant('err'),
      code: fc.oneof(
        fc.constantFrom('PF_ERR_FLOOD', 'PF_ERR_SCHEMA', 'PF_ERR_X_', 'PF_ERR_', 'pf_err_x'),
        fc.integer({ min: 56, max: 58 }).map((n) => `PF_ERR_${'A'.repeat(n)}`),
        text(64),
      ),
      message: text(2049),
      id,
    },
    { requiredKeys: ['t', 'code', 'message'] },
  ),
  fc.constant({ t: 'pong' }),
  fc.constant({ t: 'ping' }),
  fc.record({ t: fc.constant('received'), n: fc.nat() }),
  fc.record({ t: fc.constant('auth'), token: fc.string({ minLength: 1 }) }),
);

/** `x` with one part changed: a value replaced by any JSON, a key removed or added. */
function mutated(x: unknown): fc.Arbitrary<unknown> {
  if (typeof x !== 'object' || x === null) return json;
  const keys = Object.keys(x);
  const at = (k: string | number) => (x as Record<string, unknown>)[k];
  const children = keys.map((k) =>
    mutated(at(k)).map((v) =>
      Array.isArray(x) ? x.map((e, i) => (String(i) === k ? v : e)) : { ...x, [k]: v },
    ),
  );
  const removed = keys.length
    ? fc
        .constantFrom(...keys)
        .map((k) => (Array.isArray(x) ? x.filter((_, i) => String(i) !== k) : omit(x, k)))
    : json;
  const added = Array.isArray(x)
    ? json.map((v) => [...x, v])
    : fc.tuple(fc.string(), json).map(([k, v]) => ({ ...x, [k]: v }));
  return fc.oneof(json, removed, added, ...children);
}

function omit(x: object, key: string): object {
  const copy: Record<string, unknown> = { ...x };
  delete copy[key];
  return copy;
}

describe('json-ws frame reader', () => {
  it('agrees with the schema on generated frames, valid and broken', () => {
    let valid = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          { arbitrary: frame, weight: 2 },
          { arbitrary: frame.chain(mutated), weight: 3 },
          { arbitrary: json, weight: 1 },
        ),
        (x) => {
          runs++;
          const expected = byTheSchema(x);
          if (expected) valid++;
          expect(byTheStub(x)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
    // Not vacuous: a fair share of both kinds.
    expect(valid).toBeGreaterThan(runs / 10);
    expect(runs - valid).toBeGreaterThan(runs / 10);
  });

  it('refuses, without throwing, what no schema validator should have to take', () => {
    const forward =
      '{"id":"f","type":"forward","from":"user://a.example/a","to":"user://b.example/b","body":{"message":';
    const deep = `${forward.repeat(100_000)}{"id":"x","type":"read","from":"user://a.example/a","to":"user://b.example/b","body":{}}${'}}'.repeat(100_000)}`;
    const refusals = [
      '',
      'null',
      '[]',
      '{"t":"ack"}',
      '{"t":"ack","ids":[]}',
      '{"t":"err","code":"PF_ERR_FLOOD"}',
      `{"t":"msg","m":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      `{"t":"msg","m":${deep}}`,
      '\u0000\uFFFD\uD800',
      '{"t":"__proto__"}',
      '{"t":"msg","m":{"type":"toString"}}',
    ];
    for (const text of refusals) expect(readServerFrame(text)).toHaveProperty('why');
    expect(readServerFrame('{"t":"msg","m":{"type":"toString"}}')).toEqual({ why: 'msg: type', msg: true });
    expect(readServerFrame('{"t":"ack","ids":["a"]}')).toEqual({ t: 'ack', ids: ['a'] });
  });
});
