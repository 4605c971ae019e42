import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import type { Descriptor } from '../core/plugin.js';
import { MemoryStore } from '../core/store.js';
import { CatalogueClient, KEYS_PATH } from '../runtime/catalogue.js';
import { Loader } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { signingInput } from '../runtime/signature.js';
import { TrustStore } from '../runtime/trust.js';
import type { DomainKey } from '../server/catalogue/keys.js';
import { signWith } from '../server/catalogue/keys.js';
import { type TestCatalogue, testCatalogue } from './support/domain-catalogue.js';

/**
 * Hostile descriptors and key sets, served over real HTTP: whatever a catalogue serves, the
 * loader resolves with a verified package or rejects with a coded ProtoflyError, never a raw
 * TypeError or RangeError. Mutated descriptors are signed again when they can be, so that they
 * reach the checks past the signature (engine range, downgrade, package URL, integrity).
 */

const ECHO = join(import.meta.dirname, 'fixtures/stubs/echo');
const DOMAIN = 'b.example';
const DESCRIPTOR_PATH = '/.well-known/protofly/stub/echo';

/** JSON text put verbatim where a value goes: what JSON.stringify cannot produce. */
class Raw {
  constructor(readonly text: string) {}
}

const RAW = [
  '1e400', // Infinity once parsed
  '-1e400',
  '1e-400',
  '-0',
  '123456789012345678901234567890',
  '"\\ud800"', // lone surrogates
  '"x\\udc00y"',
  '"\\u0000"',
  '{"__proto__":{"polluted":true}}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
].map((t) => new Raw(t));

/** Versions and ranges that semver or the schema's patterns find strange. */
const ODD_SEMVER = [
  '99999999999999999999.0.0',
  '9007199254740993.0.0',
  '1.0.0-99999999999999999999',
  `1.0.0-${'a'.repeat(250)}`,
  '0.0.0-0',
  '1.0.0+build.1',
  '*',
  '',
  ' ',
  '||',
  '^99999999999999999999',
  '>=1.0.0 <0.0.0',
  'x.x.x',
  '~',
  '1.x || >=2.5.0 || 5.0.0 - 7.2.3',
  `${'1.0.0 || '.repeat(25)}1.0.0`,
];

/** Lone surrogates, overflowing numbers, deep nesting: what has no RFC 8785 form or strains a parser. */
const uncanonical: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...RAW),
  fc.string({ unit: 'binary', maxLength: 20 }).map((t) => `${t}\ud800${t}`),
  fc.integer({ min: 200, max: 20_000 }).map((n) => new Raw(`${'['.repeat(n)}${']'.repeat(n)}`)),
);

/** Versions semver may not hold: parts past 2^53, long pre-releases. */
const oddVersion: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...ODD_SEMVER),
  fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.nat(), fc.bigInt({ min: 0n, max: 10n ** 25n }))
    .map(([a, b, c]) => `${a}.${b}.${c}`),
);

/** Places a descriptor's value can be, each with what to put there. */
const targeted: fc.Arbitrary<readonly [readonly string[], unknown]> = fc.oneof(
  fc.tuple(fc.constant(['version']), oddVersion),
  fc.tuple(
    fc.constant(['engine']),
    fc.oneof(oddVersion, fc.stringMatching(/^[0-9A-Za-z.*^~<>=|+ -]{1,60}$/)),
  ),
  fc.tuple(
    fc.constant(['sourcePackage', 'url']),
    fc.oneof(
      fc.constantFrom(
        'http://[',
        'http://a b/',
        'https://exa mple/x.js',
        'http://[::1]:99999/x.js',
        '//',
        'javascript:1',
        'file:///etc/passwd',
        'data:text/javascript,export default 1',
        '\\\\host\\x.js',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    ),
  ),
  fc.tuple(fc.constant(['sourcePackage', 'size']), fc.oneof(fc.constantFrom<unknown>(...RAW), fc.integer())),
  fc.tuple(fc.constant(['sourcePackage', 'integrity']), fc.stringMatching(/^sha384-[A-Za-z0-9+/]{64}$/)),
  fc.tuple(
    fc.constantFrom(
      ['description'],
      ['configuration', 'defaults', 'prefix'],
      ['configuration', 'schema', 'x'],
    ),
    uncanonical,
  ),
  fc.tuple(
    fc.constantFrom(['configuration', 'defaults', '__proto__'], ['__proto__']),
    fc.jsonValue({ maxDepth: 2 }),
  ),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...RAW),
  fc.constantFrom<unknown>(...ODD_SEMVER),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 200, max: 20_000 }).map((n) => new Raw(`${'['.repeat(n)}${']'.repeat(n)}`)),
);

/** Every JSON pointer of a value, as key paths. */
function pathsOf(value: unknown, at: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...at, k]))];
}

/** Sets `value` at `path` in a copy of `root`, as an own property (even `__proto__`). */
function setAt(root: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path as [string, ...string[]];
  const copy = (
    typeof root === 'object' && root !== null ? (Array.isArray(root) ? [...root] : { ...root }) : {}
  ) as Record<string, unknown>;
  Object.defineProperty(copy, key, {
    value: setAt(copy[key], rest, value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

/** JSON text of `value`, with each {@link Raw} spliced in verbatim. */
function textOf(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (!(v instanceof Raw)) return v;
    raws.push(v.text);
    return `@@raw${raws.length - 1}@@`;
  });
  return raws.reduce((t, raw, i) => t.replace(`"@@raw${i}@@"`, () => raw), text);
}

/** The descriptor text served: `text` signed again with `key` when it can be, else as it is. */
function resigned(text: string, key: DomainKey): string {
  let parsed: Descriptor;
  try {
    parsed = JSON.parse(text) as Descriptor;
    return JSON.stringify({ ...parsed, signature: signWith(key, signingInput(parsed)) });
  } catch {
    return text;
  }
}

let cat: TestCatalogue;
let base: Descriptor;
let packageBytes: Buffer;
let served: { descriptor: string; keys: string };
let server: Server;
let url: string;

beforeAll(async () => {
  cat = await testCatalogue(DOMAIN);
  const published = await cat.publish(ECHO);
  base = published.descriptor;
  packageBytes = await readFile(published.packageFile);
  served = { descriptor: JSON.stringify(base), keys: JSON.stringify({ keys: [cat.key.publicJwk] }) };
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body =
      path === DESCRIPTOR_PATH
        ? served.descriptor
        : path === KEYS_PATH
          ? served.keys
          : path === base.sourcePackage.url
            ? packageBytes
            : undefined;
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(body ?? '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await cat.close();
});

/**
 * Loads what is served now, with no key trusted yet and 0.1.0 seen before (so that versions are
 * compared): `ok`, or the error it rejected with.
 */
async function outcome(): Promise<unknown> {
  const store = new MemoryStore();
  await store.set(`seen:${DOMAIN}/stub/echo@*`, '0.1.0');
  const loader = new Loader({
    trust: new TrustStore({ mode: 'tofu' }),
    catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: url }, timeoutMs: 5000 }),
    store,
    policy: developmentPolicy,
  });
  return loader.load({ domain: DOMAIN, name: 'echo' }).then(
    () => 'ok',
    (err: unknown) => err,
  );
}

const coded = (o: unknown) => o === 'ok' || isProtoflyError(o);

describe('the loader only ever rejects with a ProtoflyError', () => {
  it('the untouched descriptor loads (the properties start from a valid one)', async () => {
    served = { descriptor: JSON.stringify(base), keys: JSON.stringify({ keys: [cat.key.publicJwk] }) };
    expect(await outcome()).toBe('ok');
  });

  it('a hostile value where each check looks, signed again when it can be', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(targeted, { minLength: 1, maxLength: 2 }), async (mutations) => {
        const changed = mutations.reduce<unknown>((d, [path, value]) => setAt(d, path, value), base);
        served = {
          descriptor: resigned(textOf(changed), cat.key),
          keys: JSON.stringify({ keys: [cat.key.publicJwk] }),
        };
        const o = await outcome();
        expect(coded(o), String((o as Error)?.stack ?? o)).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, 120_000);

  it('hostile values anywhere, signed again or not, cut short or not', async () => {
    const paths = [
      ...pathsOf(base).filter((p) => p.length > 0),
      ['__proto__'],
      ['constructor'],
      ['x-extra'],
      ['configuration', 'defaults', '__proto__'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...paths), hostileValue), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.option(fc.nat(), { nil: undefined }),
        async (mutations, resign, cut) => {
          const changed = mutations.reduce<unknown>((d, [path, value]) => setAt(d, path, value), base);
          let text = textOf(changed);
          if (resign) text = resigned(text, cat.key);
          if (cut !== undefined) text = text.slice(0, cut % (text.length + 1));
          served = { descriptor: text, keys: JSON.stringify({ keys: [cat.key.publicJwk] }) };
          const o = await outcome();
          expect(coded(o), String((o as Error)?.stack ?? o)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  }, 120_000);

  it('hostile key sets (JWKS) for a validly signed descriptor', async () => {
    const jwk = cat.key.publicJwk;
    const hostileKey = fc.oneof(
      fc.constant<unknown>(jwk),
      fc.record({
        kty: fc.constantFrom('OKP', 'EC', 'RSA', ''),
        crv: fc.constantFrom('Ed25519', 'X25519', 'P-256'),
        x: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), fc.constant(jwk.x), hostileValue),
        kid: fc.oneof(fc.constant(jwk.kid), hostileValue),
        use: fc.constantFrom('sig', 'enc'),
        alg: fc.constantFrom('EdDSA', 'Ed25519', 'none'),
      }),
      hostileValue,
    );
    const keysDoc = fc.oneof(
      fc.record({ keys: fc.array(hostileKey, { maxLength: 4 }) }),
      fc.array(hostileKey, { maxLength: 3 }).map((keys) => ({ keys, extra: new Raw('1e400') })),
      hostileValue,
    );
    await fc.assert(
      fc.asyncProperty(keysDoc, fc.option(fc.nat(), { nil: undefined }), async (doc, cut) => {
        let keys = textOf(doc);
        if (cut !== undefined) keys = keys.slice(0, cut % (keys.length + 1));
        served = { descriptor: JSON.stringify(base), keys };
        const o = await outcome();
        expect(coded(o), String((o as Error)?.stack ?? o)).toBe(true);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
