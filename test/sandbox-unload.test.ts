import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StubPackage } from '../core/plugin.js';
import { Bus } from '../runtime/bus.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { Loader } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { TrustStore } from '../runtime/trust.js';
import type { SandboxMemory } from '../sandbox/host.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { publish } from '../server/catalogue/publish.js';
import { converse } from './support/conversation.js';
import { type TestCatalogue, testCatalogue } from './support/domain-catalogue.js';

/**
 * Unloading a package version from the worker host: deferred while an instance of it runs,
 * then its compartment is released, which a measurement of the worker's heap after a forced
 * collection shows (each version of the ballast stub holds 16 MiB).
 */

const DOMAIN = 'ballast.test';
const BALLAST = join(import.meta.dirname, 'stubs/ballast');
const MIB = 1024 * 1024;
/** A json-ws endpoint nobody listens on: the stub keeps reconnecting, its instance keeps running. */
const config = { url: 'ws://127.0.0.1:9/' };

let cat: TestCatalogue;
let host: NodeWorkerHost;
let bus: Bus;
const versions = new Map<string, StubPackage>();

beforeAll(async () => {
  cat = await testCatalogue(DOMAIN);
  const loader = new Loader({
    policy: developmentPolicy,
    trust: new TrustStore({ mode: 'pinned', pinned: { [DOMAIN]: [cat.key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [DOMAIN]: cat.url } }),
  });
  for (const version of ['1.0.0', '2.0.0']) {
    await publish({ pluginDir: BALLAST, key: cat.key, out: cat.dir, version, makeDefault: true });
    versions.set(version, (await loader.load({ domain: DOMAIN, range: version })) as StubPackage);
  }
  host = new NodeWorkerHost({
    policy: developmentPolicy,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
  bus = new Bus();
  await host.ready();
});
afterAll(async () => {
  await host?.terminate();
  bus?.close();
  await cat?.close();
});

/** The worker that runs the domain's packages, measured after a full collection. */
async function measure(): Promise<SandboxMemory> {
  const all = await host.measure();
  const realm = all.find((m) => m.packages.some((p) => p.startsWith(`${DOMAIN}/`)));
  if (!realm) throw new Error(`no worker runs ${DOMAIN}: ${JSON.stringify(all)}`);
  return realm;
}

describe('NodeWorkerHost.unload', () => {
  it('drops a version once its last instance ends, and its memory returns to the one-version baseline', async () => {
    const [v1, v2] = [versions.get('1.0.0')!, versions.get('2.0.0')!];
    const old = await converse(host, bus, v1, { config });
    const baseline = await measure();
    expect(baseline.packages).toContain(`${DOMAIN}/json-ws@1.0.0`);

    const next = await converse(host, bus, v2, { config });
    const both = await measure();
    expect(both.packages).toEqual(
      expect.arrayContaining([`${DOMAIN}/json-ws@1.0.0`, `${DOMAIN}/json-ws@2.0.0`]),
    );
    // The second version's ballast is there: the measurement sees a compartment's memory.
    expect(both.heap - baseline.heap).toBeGreaterThan(12 * MIB);

    // Unloading waits for the instance that still runs it.
    host.unload(v1);
    expect((await measure()).packages).toContain(`${DOMAIN}/json-ws@1.0.0`);
    await old.handle.stop();
    const after = await measure();
    expect(after.packages).not.toContain(`${DOMAIN}/json-ws@1.0.0`);
    expect(both.heap - after.heap).toBeGreaterThan(12 * MIB);
    expect(Math.abs(after.heap - baseline.heap)).toBeLessThan(4 * MIB);

    // A later instance of it evaluates it again.
    const again = await converse(host, bus, v1, { config });
    expect((await measure()).packages).toContain(`${DOMAIN}/json-ws@1.0.0`);
    await Promise.all([again.handle.stop(), next.handle.stop()]);
  });
});
