import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isProtoflyError } from '../core/errors.js';
import type { VerifiedPackage } from '../core/plugin.js';
import { FileStore } from '../node/file-store.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { Loader, type LoaderOptions } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { signingInput } from '../runtime/signature.js';
import { TrustStore } from '../runtime/trust.js';
import { generateDomainKey, signWith } from '../server/catalogue/keys.js';
import { publish } from '../server/catalogue/publish.js';
import { type TestCatalogue, testCatalogue } from './support/domain-catalogue.js';

const ECHO = join(import.meta.dirname, 'fixtures/stubs/echo');
const DOMAIN = 'b.example';

let cat: TestCatalogue;
let work: string;

/** A copy of the echo stub with manifest fields changed, to publish variants. */
async function variant(name: string, change: Record<string, unknown>, source?: string): Promise<string> {
  const dir = join(work, name);
  await cp(ECHO, dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'protofly.json'), 'utf8'));
  await writeFile(join(dir, 'protofly.json'), JSON.stringify({ ...manifest, ...change }));
  if (source) await writeFile(join(dir, 'index.ts'), source);
  return dir;
}

function loader(options: Partial<LoaderOptions> = {}): Loader {
  return new Loader({
    // Deployments here are on loopback.
    policy: developmentPolicy,
    trust: new TrustStore({ mode: 'pinned', pinned: { [DOMAIN]: [cat.key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: cat.url }, timeoutMs: 2000 }),
    ...options,
  });
}

/** Asserts that a load is refused with `code` and hands back no package. */
async function refused(load: Promise<VerifiedPackage>, code: ErrorCode, message?: RegExp): Promise<void> {
  const outcome = await load.then(
    (pkg) => pkg,
    (err: unknown) => err,
  );
  expect(isProtoflyError(outcome, code), String(outcome)).toBe(true);
  if (message) expect((outcome as Error).message).toMatch(message);
}

async function rewriteDescriptor(file: string, change: (d: Record<string, unknown>) => void): Promise<void> {
  const d = JSON.parse(await readFile(file, 'utf8'));
  change(d);
  await writeFile(file, JSON.stringify(d));
}

beforeEach(async () => {
  cat = await testCatalogue(DOMAIN);
  work = await mkdtemp(join(tmpdir(), 'pf-variants-'));
});
afterEach(async () => {
  await cat.close();
  await rm(work, { recursive: true, force: true });
});

describe('publish → catalogue → verified load', () => {
  it('round-trips: the loaded source is exactly the published package, signed by the domain key', async () => {
    const published = await cat.publish(ECHO);
    const pkg = await loader().load({ domain: DOMAIN });
    expect(pkg.descriptor).toEqual(published.descriptor);
    expect(pkg.source).toBe(await readFile(published.packageFile, 'utf8'));
    expect(pkg.signedBy).toBe(`${DOMAIN}#${cat.key.publicJwk.kid}`);
    expect(pkg.source).not.toMatch(/\bimport\b|\brequire\(/);
  });

  it('re-publishing an unchanged plugin writes nothing; a changed one under the same version is refused', async () => {
    expect((await cat.publish(ECHO)).changed).toBe(true);
    expect((await cat.publish(ECHO)).changed).toBe(false);
    const changed = await variant('changed', {}, 'export default () => ({ postMessage() {}, stop() {} });\n');
    await expect(cat.publish(changed)).rejects.toThrow(
      /PF_ERR_CONFIG: b\.example\/echo@1\.0\.0 is already published/,
    );
  });

  it('serves the newest version, a range, and the list; never overwrites an old package', async () => {
    const v1 = await cat.publish(ECHO);
    const v2 = await cat.publish(
      await variant('v2', { version: '2.0.0' }, 'export default () => ({ postMessage() {}, stop() {} });\n'),
    );
    expect(v2.packageFile).not.toBe(v1.packageFile);
    expect((await loader().load({ domain: DOMAIN, name: 'echo' })).descriptor.version).toBe('2.0.0');
    expect((await loader().load({ domain: DOMAIN, name: 'echo', range: '^1' })).descriptor.version).toBe(
      '1.0.0',
    );
    expect(
      (await loader({ ranges: { [DOMAIN]: '1.x' } }).load({ domain: DOMAIN, name: 'echo' })).descriptor
        .version,
    ).toBe('1.0.0');
    const list = await (await fetch(`${cat.url}/.well-known/protofly/stub/echo/versions`)).json();
    expect(list).toEqual({ kind: 'stub', name: 'echo', versions: ['2.0.0', '1.0.0'] });
    expect(await readFile(v1.packageFile, 'utf8')).toMatch(/echo|value: msg\.body/);
  });
});

describe('publish into a catalogue it cannot read', () => {
  it('refuses with PF_ERR_STORAGE naming the file, and leaves an unreadable JWKS as it is', async () => {
    await cat.publish(ECHO);
    const keys = join(cat.dir, 'keys.json');
    // A directory where the JWKS belongs fails to read for root too (chmod 000 would not).
    await rm(keys);
    await mkdir(keys);
    await writeFile(join(keys, 'kept'), 'x');
    const outcome = await cat.publish(await variant('v2', { version: '1.1.0' })).catch((err: unknown) => err);
    expect(isProtoflyError(outcome, 'PF_ERR_STORAGE'), String(outcome)).toBe(true);
    expect((outcome as { detail: { path: string; code: string } }).detail).toMatchObject({
      path: keys,
      code: 'EISDIR',
    });
    expect((outcome as Error).cause).toMatchObject({ code: 'EISDIR' });
    expect(await readFile(join(keys, 'kept'), 'utf8')).toBe('x');
  });
});

describe('refusals, each with its code and nothing instantiated', () => {
  it('one flipped byte in a package: PF_ERR_INTEGRITY', async () => {
    const { packageFile } = await cat.publish(ECHO);
    const bytes = await readFile(packageFile);
    bytes[10] = bytes[10]! ^ 0x01;
    await writeFile(packageFile, bytes);
    await refused(loader().load({ domain: DOMAIN }), 'PF_ERR_INTEGRITY', /bytes hash to sha384-/);
  });

  it('a package swapped for another validly signed one: PF_ERR_INTEGRITY', async () => {
    const echo = await cat.publish(ECHO);
    const other = await cat.publish(
      await variant('other', { name: 'other' }, 'export default () => ({ postMessage() {}, stop() {} });\n'),
    );
    await cp(other.packageFile, echo.packageFile);
    await refused(loader().load({ domain: DOMAIN, name: 'echo' }), 'PF_ERR_INTEGRITY');
  });

  it('a descriptor field changed after signing: PF_ERR_SIGNATURE', async () => {
    const { descriptorFile } = await cat.publish(ECHO);
    await rewriteDescriptor(descriptorFile, (d) => {
      (d.constraints as { endpoints: string[] }).endpoints = ['wss://evil.example/'];
    });
    await refused(loader().load({ domain: DOMAIN }), 'PF_ERR_SIGNATURE', /signature does not verify/);
  });

  it('a signature by a key that is not in the trust store: PF_ERR_UNTRUSTED_KEY', async () => {
    await cat.publish(ECHO);
    const stranger = await generateDomainKey(DOMAIN, join(work, 'stranger'));
    const trust = new TrustStore({ mode: 'pinned', pinned: { [DOMAIN]: [stranger.publicJwk] } });
    await refused(loader({ trust }).load({ domain: DOMAIN }), 'PF_ERR_UNTRUSTED_KEY', /is not pinned/);
    await refused(
      loader({ trust: new TrustStore({ mode: 'pinned' }) }).load({ domain: DOMAIN }),
      'PF_ERR_UNTRUSTED_KEY',
    );
  });

  it('trust on first use: the first key is recorded, a later different key is refused', async () => {
    const { descriptorFile } = await cat.publish(ECHO);
    const store = new FileStore(join(work, 'trust'));
    const tofu = () => loader({ trust: new TrustStore({ mode: 'tofu', store }) });
    expect((await tofu().load({ domain: DOMAIN })).signedBy).toBe(`${DOMAIN}#${cat.key.publicJwk.kid}`);

    // The domain (or whoever took over its catalogue) now signs with another key and publishes it.
    const usurper = await generateDomainKey(DOMAIN, join(work, 'usurper'));
    await rewriteDescriptor(descriptorFile, (d) => {
      delete d.signature;
      d.signature = signWith(usurper, signingInput(d as never));
    });
    await writeFile(join(cat.dir, 'keys.json'), JSON.stringify({ keys: [usurper.publicJwk] }));
    await cat.restart();
    await refused(
      tofu().load({ domain: DOMAIN }),
      'PF_ERR_UNTRUSTED_KEY',
      /differs from the keys recorded on first use/,
    );
  });

  it('trust on first use: the keys are fetched alongside the descriptor, and not at all once recorded', async () => {
    await cat.publish(ECHO);
    const store = new FileStore(join(work, 'trust'));
    const asked: string[] = [];
    let keysAsked!: () => void;
    const keys = new Promise<void>((resolve) => {
      keysAsked = resolve;
    });
    // The descriptor is answered only once the keys were asked for: a loader that asked for them
    // after the descriptor would never get an answer.
    const fetching: typeof fetch = async (input, init) => {
      const url = String(input);
      asked.push(new URL(url).pathname);
      if (url.endsWith('/keys')) keysAsked();
      else if (url.includes('/stub/')) await keys;
      return fetch(input, init);
    };
    const tofu = () =>
      loader({
        trust: new TrustStore({ mode: 'tofu', store }),
        catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: cat.url }, fetch: fetching }),
      });
    expect((await tofu().load({ domain: DOMAIN })).signedBy).toBe(`${DOMAIN}#${cat.key.publicJwk.kid}`);
    expect(asked.filter((p) => p.endsWith('/keys'))).toHaveLength(1);

    // Recorded now: a new loader on the same store asks for the descriptor and the package only.
    asked.length = 0;
    await tofu().load({ domain: DOMAIN });
    expect(asked.some((p) => p.endsWith('/keys'))).toBe(false);
    expect(asked.some((p) => p.includes('/stub/'))).toBe(true);
  });

  it('a descriptor that breaks the schema: PF_ERR_SCHEMA naming the field', async () => {
    const { descriptorFile } = await cat.publish(ECHO);
    await rewriteDescriptor(descriptorFile, (d) => {
      d.capabilities = ['teleport'];
    });
    await refused(loader().load({ domain: DOMAIN }), 'PF_ERR_SCHEMA', /\/capabilities\/0 must be one of/);
  });

  it('an engine range this protofly does not satisfy: PF_ERR_ENGINE', async () => {
    await cat.publish(await variant('future', { engine: '>=9.0.0' }));
    await refused(
      loader().load({ domain: DOMAIN }),
      'PF_ERR_ENGINE',
      /needs protofly >=9\.0\.0; this is 0\.1\.0/,
    );
  });

  it('a package over the size limit: PF_ERR_TOO_LARGE, before any download', async () => {
    await cat.publish(ECHO);
    await refused(
      loader({ maxPackageBytes: 100 }).load({ domain: DOMAIN }),
      'PF_ERR_TOO_LARGE',
      /over the limit of 100/,
    );
    expect(cat.packageRequests).toBe(0);
  });

  it('a package larger than its descriptor says: refused while reading', async () => {
    const { packageFile } = await cat.publish(ECHO);
    await writeFile(packageFile, `${await readFile(packageFile, 'utf8')}\n${'/* padding */'.repeat(100)}`);
    await refused(loader().load({ domain: DOMAIN }), 'PF_ERR_TOO_LARGE');
  });

  it('a catalogue that never answers: PF_ERR_FETCH after the time-out, no hang', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    const catalogue = new CatalogueClient({
      catalogues: { [DOMAIN]: `http://127.0.0.1:${port}` },
      timeoutMs: 300,
    });
    await refused(loader({ catalogue }).load({ domain: DOMAIN }), 'PF_ERR_FETCH', /timed out after 300 ms/);
    silent.close();
  });

  it('a downgrade: an older signed version offered after a newer one was seen: PF_ERR_DOWNGRADE', async () => {
    await cat.publish(ECHO);
    const v2 = await cat.publish(
      await variant('v2', { version: '1.1.0' }, 'export default () => ({ postMessage() {}, stop() {} });\n'),
    );
    const store = new FileStore(join(work, 'store'));
    expect((await loader({ store }).load({ domain: DOMAIN, name: 'echo' })).descriptor.version).toBe('1.1.0');
    await rm(v2.descriptorFile);
    await refused(
      loader({ store }).load({ domain: DOMAIN, name: 'echo' }),
      'PF_ERR_DOWNGRADE',
      /1\.0\.0 is older than 1\.1\.0/,
    );
  });

  it('a catalogue serving another domain’s descriptor: PF_ERR_UNTRUSTED_KEY', async () => {
    await cat.publish(ECHO);
    const catalogue = new CatalogueClient({ catalogues: { 'c.example': cat.url } });
    const trust = new TrustStore({ mode: 'pinned', pinned: { 'c.example': [cat.key.publicJwk] } });
    await refused(
      loader({ catalogue, trust }).load({ domain: 'c.example' }),
      'PF_ERR_UNTRUSTED_KEY',
      /served a descriptor of b\.example/,
    );
  });
});

describe('the descriptor served is the one asked for', () => {
  const noop = 'export default () => ({ postMessage() {}, stop() {} });\n';

  it('another plugin’s validly signed descriptor under the name asked for: PF_ERR_DESCRIPTOR naming the name', async () => {
    const echo = await cat.publish(ECHO, true);
    const other = await cat.publish(await variant('other', { name: 'other' }, noop));
    await cp(other.descriptorFile, echo.descriptorFile);
    await refused(
      loader().load({ domain: DOMAIN, name: 'echo' }),
      'PF_ERR_DESCRIPTOR',
      /whose name is "other"; asked for echo/,
    );
    // The default plugin is whichever the domain chose: any name.
    expect((await loader().load({ domain: DOMAIN })).descriptor.name).toBe('other');
  });

  it('a validly signed version outside the range asked for: PF_ERR_DESCRIPTOR naming the version', async () => {
    const v1 = await cat.publish(ECHO);
    const v2 = await cat.publish(await variant('v2', { version: '2.0.0' }, noop));
    await cp(v2.descriptorFile, v1.descriptorFile);
    const outcome = await loader()
      .load({ domain: DOMAIN, name: 'echo', range: '^1' })
      .catch((err: unknown) => err);
    expect(isProtoflyError(outcome, 'PF_ERR_DESCRIPTOR'), String(outcome)).toBe(true);
    expect((outcome as Error).message).toMatch(/version is "2\.0\.0"; asked for a version within \^1/);
    expect((outcome as { detail: unknown }).detail).toEqual({
      field: 'version',
      asked: '^1',
      served: '2.0.0',
    });
    // Within the range configured for the domain, the same.
    await refused(
      loader({ ranges: { [DOMAIN]: '1.x' } }).load({ domain: DOMAIN, name: 'echo' }),
      'PF_ERR_DESCRIPTOR',
    );
  });

  it('a stub descriptor served where a backend was asked for: PF_ERR_DESCRIPTOR naming the kind', async () => {
    const echo = await cat.publish(ECHO);
    const asBackend = join(cat.dir, 'backend', 'echo', '1.0.0.json');
    await mkdir(dirname(asBackend), { recursive: true });
    await cp(echo.descriptorFile, asBackend);
    await refused(
      loader().load({ domain: DOMAIN, kind: 'backend', name: 'echo' }),
      'PF_ERR_DESCRIPTOR',
      /whose kind is "stub"; asked for backend/,
    );
  });

  it('a range that is not a semver range: PF_ERR_CONFIG before any fetch', async () => {
    await cat.publish(ECHO);
    await refused(
      loader().load({ domain: DOMAIN, range: '^^1' }),
      'PF_ERR_CONFIG',
      /'\^\^1'.*not a semver range/,
    );
  });
});

describe('trust on first use learns keys only from the domain’s own catalogue', () => {
  it('loadUrl on an attacker’s origin does not record the domain’s key: it verifies under the keys the domain publishes', async () => {
    await cat.publish(ECHO);
    // The attacker runs a catalogue of their own, with their own key, for the same domain.
    const evil = await testCatalogue(DOMAIN);
    try {
      await evil.publish(ECHO);
      const attacked = `${evil.url}/.well-known/protofly/stub/echo`;
      const store = new FileStore(join(work, 'trust'));
      const tofu = (catalogues: Record<string, string>) =>
        new Loader({
          trust: new TrustStore({ mode: 'tofu', store }),
          catalogue: new CatalogueClient({ catalogues, timeoutMs: 2000 }),
        });

      // No catalogue configured for b.example: its keys are at https://b.example, out of reach
      // here, so nothing is learned, and certainly not from the attacker's origin.
      await refused(
        tofu({}).loadUrl(attacked),
        'PF_ERR_FETCH',
        /https:\/\/b\.example\/\.well-known\/protofly\/keys/,
      );
      expect(await store.get(`trust:${DOMAIN}`)).toBeUndefined();

      // b.example's catalogue configured: its keys are recorded, the attacker's signature refused.
      await refused(
        tofu({ [DOMAIN]: cat.url }).loadUrl(attacked),
        'PF_ERR_UNTRUSTED_KEY',
        /is not among the domain's published keys/,
      );
      const recorded = JSON.parse((await store.get(`trust:${DOMAIN}`))!) as { keys: { x: string }[] };
      expect(recorded.keys.map((k) => k.x)).toEqual([cat.key.publicJwk.x]);
      const genuine = await tofu({ [DOMAIN]: cat.url }).loadUrl(`${cat.url}/.well-known/protofly/stub/echo`);
      expect(genuine.signedBy).toBe(`${DOMAIN}#${cat.key.publicJwk.kid}`);
    } finally {
      await evil.close();
    }
  });
});

describe('caching', () => {
  it('shares one download among concurrent loads, and a second start downloads nothing', async () => {
    await cat.publish(ECHO);
    const store = new FileStore(join(work, 'store'));
    const first = loader({ store });
    const loads = await Promise.all(Array.from({ length: 5 }, () => first.load({ domain: DOMAIN })));
    expect(new Set(loads.map((p) => p.source)).size).toBe(1);
    expect(cat.packageRequests).toBe(1);

    const second = loader({ store });
    expect((await second.load({ domain: DOMAIN })).source).toBe(loads[0]!.source);
    expect(cat.packageRequests).toBe(1);
  });

  it('checks a stored package again and refuses one tampered on disk', async () => {
    const { descriptor } = await cat.publish(ECHO);
    const store = new FileStore(join(work, 'store'));
    await loader({ store }).load({ domain: DOMAIN });
    await store.set(
      `pkg:${descriptor.sourcePackage.integrity}`,
      'export default () => { globalThis.pwned = true };',
    );
    await refused(loader({ store }).load({ domain: DOMAIN }), 'PF_ERR_INTEGRITY', /\(cached\)/);
  });
  it('a damaged store fails closed, with a code: unreadable trusted keys, a seen version that is none', async () => {
    await cat.publish(ECHO);
    const store = new FileStore(join(work, 'store'));
    await store.set(`trust:${DOMAIN}`, '{"keys": [');
    await refused(
      loader({ trust: new TrustStore({ mode: 'tofu', store }) }).load({ domain: DOMAIN }),
      'PF_ERR_UNTRUSTED_KEY',
      /keys recorded for domain b\.example are unreadable/,
    );
    await store.set(`seen:${DOMAIN}/stub/default@*`, '99999999999999999999.0.0');
    await refused(loader({ store }).load({ domain: DOMAIN }), 'PF_ERR_DOWNGRADE', /the store is damaged/);
  });
});

describe('redeploying', () => {
  it('re-signs the same package under the same version for a moved deployment, never another package', async () => {
    const first = await cat.publish(ECHO);
    const moved = await publish({
      pluginDir: ECHO,
      key: cat.key,
      out: cat.dir,
      deployment: { endpoints: ['ws://127.0.0.1:9999/'] },
      redeploy: true,
    });
    expect(moved.changed).toBe(true);
    expect(moved.descriptor.sourcePackage).toEqual(first.descriptor.sourcePackage);
    expect((await loader().load({ domain: DOMAIN })).descriptor).toMatchObject({
      constraints: { endpoints: ['ws://127.0.0.1:9999/'] },
    });
    const changed = await variant('changed', {}, 'export default () => ({ postMessage() {}, stop() {} });\n');
    await expect(
      (await import('../server/catalogue/publish.js')).publish({
        pluginDir: changed,
        key: cat.key,
        out: cat.dir,
        redeploy: true,
      }),
    ).rejects.toThrow(/PF_ERR_CONFIG: b\.example\/echo@1\.0\.0 is already published with other content/);
  });
});
