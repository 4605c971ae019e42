import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../../core/errors.js';
import * as api from '../../plugins/stubs/sip-ws/message/index.js';
import {
  type HeaderCodec,
  isSipUri,
  parse,
  type SipMessage,
  SipRequest,
  serialize,
} from '../../plugins/stubs/sip-ws/message/index.js';
import * as rfc3261 from './fixtures/rfc3261.js';
import * as rfc4475 from './fixtures/rfc4475.js';

/**
 * Properties of the parser over inputs nobody wrote by hand:
 * 1. whatever the input (random text, random bytes, SIP-like noise, mutated valid messages),
 *    `parse`, every typed header view and `serialize` either work or throw PF_ERR_SIP_PARSE;
 * 2. whatever parses, round-trips: parse(serialize(m)) equals m, and serialising is idempotent;
 * 3. generated valid messages parse, to the values they were generated from, and round-trip.
 */

const CODECS = (Object.values(api) as unknown[]).filter(
  (v): v is HeaderCodec<unknown> => typeof v === 'object' && v !== null && 'kind' in v && 'parse' in v,
);

function coded(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    if (!isProtoflyError(err, 'PF_ERR_SIP_PARSE')) throw err;
    return undefined;
  }
}

/** Every typed view of `m`, with the views that refuse left out. */
function views(m: SipMessage): unknown[] {
  const out = [m.vias, m.from, m.to, m.callId, m.cseq, coded(() => m.contacts), coded(() => m.contentType)];
  if (m instanceof SipRequest) out.push(m.maxForwards, m.method, m.uri);
  for (const codec of CODECS) out.push(coded(() => m.headers.all(codec)));
  return out;
}

/** Property 1 and 2 for one input. */
function probe(input: string | Uint8Array): void {
  const m = coded(() => parse(input)) as SipMessage | undefined;
  if (!m) return;
  const seen = views(m);
  const text = serialize(m);
  const again = parse(text);
  expect(again).toEqual(m);
  expect(views(again)).toEqual(seen);
  expect(serialize(again)).toEqual(text);
}

const VALID = [
  ...Object.values(rfc3261.ALL),
  ...[
    rfc4475.wsinv,
    rfc4475.intmeth,
    rfc4475.esc01,
    rfc4475.escnull,
    rfc4475.esc02,
    rfc4475.lwsdisp,
    rfc4475.longreq,
    rfc4475.dblreq,
    rfc4475.semiuri,
    rfc4475.transports,
    rfc4475.unreason,
    rfc4475.noreason,
    rfc4475.unksm2,
    rfc4475.regescrt,
  ],
];

const NASTY = [
  '\r\n',
  '\r\n ',
  '\r',
  '\n',
  ' ',
  '\t',
  '"',
  '\\',
  '<',
  '>',
  ';',
  ',',
  ':',
  '=',
  '%',
  '%0',
  '@',
  '?',
  '&',
  '[',
  ']',
  '\x00',
  'é',
  '\uD800',
  '/',
  '*',
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...NASTY) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, mutations: Mutation[]): string {
  let s = text;
  for (const m of mutations) {
    const at = m.at % (s.length + 1);
    if (m.kind === 'insert') s = s.slice(0, at) + m.text + s.slice(at);
    else if (m.kind === 'delete') s = s.slice(0, at) + s.slice(at + m.length);
    else s = s.slice(0, at) + s.slice(at, at + m.length) + s.slice(at);
  }
  return s;
}

const FRAGMENTS = [
  'INVITE ',
  'SIP/2.0 200 OK\r\n',
  'MESSAGE sip:a@b SIP/2.0\r\n',
  'sip:',
  'tel:+1',
  'Via: SIP/2.0/WSS h;branch=z9hG4bKx\r\n',
  'v: ',
  'f: ',
  't: ',
  'i: ',
  'm: ',
  'l: ',
  'From: ',
  'To: ',
  'CSeq: 1 MESSAGE\r\n',
  'Call-ID: x\r\n',
  'Max-Forwards: 70\r\n',
  'Contact: ',
  'Content-Length: 3\r\n',
  '\r\n\r\n',
  '\r\n',
  ' ',
  '"',
  '\\',
  '<',
  '>',
  ';tag=1',
  ';',
  ',',
  '=',
  ':',
  '%41',
  '%',
  '[::1]',
  ':5060',
  'a',
  'é',
  '\t',
  'Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n',
  'WWW-Authenticate: Digest realm="r", nonce=n\r\n',
];

describe('fuzz: nothing makes the SIP layer throw anything but PF_ERR_SIP_PARSE', () => {
  it('random text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), probe), { numRuns: 300 });
  });

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), probe), { numRuns: 500 });
  });

  it('SIP-like noise', () => {
    const noise = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((parts) => parts.join(''));
    fc.assert(fc.property(noise, probe), { numRuns: 1500 });
  });

  it('mutated valid messages (and whatever still parses round-trips)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 4 }), (text, ms) =>
        probe(mutate(text, ms)),
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated binary messages', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bytes = rfc4475.mpart01.slice();
        bytes[at % bytes.length] = byte;
        probe(bytes);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------- generated valid messages

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/;
const token = fc.stringMatching(TOKEN);
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/);
const host = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.')),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((n) => n.join('.')),
  fc
    .array(fc.stringMatching(/^[0-9a-f]{1,4}$/), { minLength: 8, maxLength: 8 })
    .map((g) => `[${g.join(':')}]`),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const text = fc.string({ unit: 'grapheme', maxLength: 20 });
/** Parameters with distinct names (they are case-insensitive), values token or none; `tag` is added apart. */
const params = fc
  .uniqueArray(fc.tuple(token, fc.option(token, { nil: null })), {
    maxLength: 3,
    selector: ([name]) => name.toLowerCase(),
  })
  .filter((ps) => ps.every(([name]) => name.toLowerCase() !== 'tag'));
const sws = fc.constantFrom('', ' ', '  ', '\t');

/** Writes a quoted string the way a careful sender would, independently of `quote`. */
const quoted = (s: string): string =>
  `"${[...s].map((c) => (c === '"' || c === '\\' || (c < ' ' && c !== '\t') || c === '\x7f' ? `\\${c}` : c)).join('')}"`;
const escaped = (s: string): string => encodeURIComponent(s);

const address = fc.record({
  display: fc.option(
    text.filter((s) => !/[\r\n]/.test(s)),
    { nil: undefined },
  ),
  user: fc.option(
    text.filter((s) => s.length > 0),
    { nil: undefined },
  ),
  host,
  port,
  uriParams: params,
  params,
  sws,
});

type Address = typeof address extends fc.Arbitrary<infer A> ? A : never;

function writeAddress(a: Address, extra: [string, string | null][] = []): string {
  const user = a.user === undefined ? '' : `${escaped(a.user)}@`;
  const uriParams = a.uriParams
    .map(([n, v]) => `;${escaped(n)}${v === null ? '' : `=${escaped(v)}`}`)
    .join('');
  const name = a.display === undefined ? '' : `${quoted(a.display)}${a.sws}`;
  const hp = a.port === undefined ? a.host : `${a.host}:${a.port}`;
  const ps = [...a.params, ...extra]
    .map(([n, v]) => `${a.sws};${a.sws}${n}${v === null ? '' : `=${v}`}`)
    .join('');
  return `${name}<sip:${user}${hp}${uriParams}>${ps}`;
}

function expectAddress(got: api.NameAddr, a: Address): void {
  expect(got.displayName).toBe(a.display);
  expect(isSipUri(got.uri)).toBe(true);
  const uri = got.uri as api.SipUri;
  expect([uri.user, uri.host, uri.port]).toEqual([a.user, a.host, a.port]);
  expect([...uri.params]).toEqual(a.uriParams.map(([n, v]) => [n.toLowerCase(), v]));
  expect([...got.params].slice(0, a.params.length)).toEqual(a.params.map(([n, v]) => [n.toLowerCase(), v]));
}

/** Folds `value` at a single space, where unfolding gives the same text back. */
function fold(value: string, at: number): string {
  const spaces = [...value.matchAll(/(?<! ) (?! )/g)].map((m) => m.index);
  if (spaces.length === 0) return value;
  const i = spaces[at % spaces.length]!;
  return `${value.slice(0, i)}\r\n ${value.slice(i + 1)}`;
}

const generated = fc.record({
  method: token,
  target: address,
  from: address,
  to: address,
  tag: token,
  branch: token,
  viaHost: host,
  viaPort: port,
  callId: fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]{1,16}(@[A-Za-z0-9.-]{1,10})?$/),
  seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  maxForwards: fc.integer({ min: 0, max: 255 }),
  contacts: fc.array(address, { maxLength: 3 }),
  extra: fc.array(
    fc.tuple(
      fc.stringMatching(/^X-[A-Za-z0-9-]{1,8}$/),
      fc.stringMatching(/^[!-~]([ !-~]{0,30}[!-~])?$/),
      fc.nat(),
    ),
    { maxLength: 4 },
  ),
  compact: fc.boolean(),
  colon: sws,
  body: fc.string({ unit: 'grapheme', maxLength: 60 }),
});

type Generated = typeof generated extends fc.Arbitrary<infer G> ? G : never;

function write(g: Generated): string {
  const name = (full: string, short: string): string => `${g.compact ? short : full}${g.colon}:${g.colon}`;
  const ruri = writeAddress({ ...g.target, display: undefined, params: [] }).slice(1, -1);
  const lines = [
    `${g.method} ${ruri} SIP/2.0`,
    `${name('Via', 'v')}SIP/2.0/WSS ${g.viaHost}${g.viaPort === undefined ? '' : `:${g.viaPort}`};branch=z9hG4bK${g.branch}`,
    `${name('From', 'f')}${writeAddress(g.from, [['tag', g.tag]])}`,
    `${name('To', 't')}${writeAddress(g.to)}`,
    `${name('Call-ID', 'i')}${g.callId}`,
    `CSeq: ${g.seq} ${g.method}`,
    `Max-Forwards: ${g.maxForwards}`,
    ...g.contacts.map((c) => `${name('Contact', 'm')}${writeAddress(c)}`),
    ...g.extra.map(([n, v, at]) => `${n}:${g.colon}${fold(v, at)}`),
    `${name('Content-Length', 'l')}${new TextEncoder().encode(g.body).length}`,
  ];
  return `${lines.join('\r\n')}\r\n\r\n${g.body}`;
}

describe('fuzz: generated valid messages', () => {
  it('parse to what they were generated from, and round-trip', () => {
    fc.assert(
      fc.property(generated, (g) => {
        const m = parse(write(g)) as SipRequest;
        expect(m.method).toBe(g.method);
        expectAddress(
          { displayName: undefined, uri: m.uri, params: new Map() },
          { ...g.target, display: undefined, params: [] },
        );
        expectAddress(m.from, g.from);
        expect(m.from.params.get('tag')).toBe(g.tag);
        expectAddress(m.to, g.to);
        expect(m.via).toMatchObject({ transport: 'WSS', host: g.viaHost, port: g.viaPort });
        expect(m.via.params.get('branch')).toBe(`z9hG4bK${g.branch}`);
        expect([m.callId, m.cseq, m.maxForwards]).toEqual([
          g.callId,
          { seq: g.seq, method: g.method },
          g.maxForwards,
        ]);
        m.contacts.forEach((c, i) => {
          expectAddress(c, g.contacts[i]!);
        });
        for (const [n, v] of g.extra) expect(m.headers.getAll(n)).toContain(v);
        expect(m.body).toBe(g.body);
        probe(write(g));
      }),
      { numRuns: 1000 },
    );
  });
});
