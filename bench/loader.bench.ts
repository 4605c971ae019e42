import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, type Store } from '../core/store.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { Loader } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import { TrustStore } from '../runtime/trust.js';
import { testCatalogue } from '../test/support/domain-catalogue.js';
import { type BenchOptions, type Result, result } from './harness.js';

/**
 * Verified loading of a ~50 KB stub from a real catalogue on loopback.
 * - cold: descriptor + package fetched, every check (schema, Ed25519, engine, size, sha384).
 * - warm: package already stored; the descriptor is fetched and checked again, the stored package re-hashed.
 * - fresh: within the descriptor's max-age: nothing asked, nothing checked again.
 * Baseline: the same two GETs with plain fetch and no checks at all.
 */
export default async function loaderBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 50 : 300;
  const work = await mkdtemp(join(tmpdir(), 'pf-bench-loader-'));
  const plugin = join(work, 'stub');
  await cp(join(root, 'test/fixtures/stubs/echo'), plugin, { recursive: true });
  // Pad the stub to the size of a real protocol stub (SIP or XMPP: tens of KB).
  const table = Array.from({ length: 2500 }, (_, i) => `'entry-${i}-${'x'.repeat(8)}'`).join(',');
  await writeFile(join(plugin, 'table.ts'), `export const TABLE = [${table}];\n`);
  await writeFile(
    join(plugin, 'index.ts'),
    "import { TABLE } from './table.js';\nexport default (ctx: { status(s: string): void }) => { ctx.status(TABLE.length ? 'live' : 'failed'); return { postMessage() {}, stop() {} }; };\n",
  );
  const cat = await testCatalogue('b.example');
  const { descriptor } = await cat.publish(plugin);
  const trust = new TrustStore({ mode: 'pinned', pinned: { 'b.example': [cat.key.publicJwk] } });
  const catalogue = new CatalogueClient({ catalogues: { 'b.example': cat.url } });
  const load = (store: Store) =>
    new Loader({ policy: developmentPolicy, trust, catalogue, store }).load({ domain: 'b.example' });
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };

  const warmStore = new MemoryStore();
  await load(warmStore);
  const fresh = new Loader({ policy: developmentPolicy, trust, catalogue, store: warmStore });
  await fresh.load({ domain: 'b.example' });
  const descriptorUrl = catalogue.descriptorUrl('b.example', 'stub', 'default');
  const packageUrl = new URL(descriptor.sourcePackage.url, descriptorUrl).href;
  const plain = async () => {
    await (await fetch(descriptorUrl)).json();
    await (await fetch(packageUrl)).arrayBuffer();
  };

  const cold: number[] = [];
  const warm: number[] = [];
  const freshTimes: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < 10; i++) await load(new MemoryStore()); // warm up the JIT and the server's file cache
  for (let i = 0; i < rounds; i++) {
    cold.push(await timed(() => load(new MemoryStore())));
    warm.push(await timed(() => load(warmStore)));
    freshTimes.push(await timed(() => fresh.load({ domain: 'b.example' })));
    base.push(await timed(plain));
  }
  await cat.close();
  await rm(work, { recursive: true, force: true });
  const kb = `${Math.round(descriptor.sourcePackage.size / 1024)} KB`;
  return [
    result(`loader: cold load, every check (${kb})`, 'ms', cold, base),
    result('loader: warm load, package stored, descriptor re-checked', 'ms', warm, base),
    result('loader: fresh load within max-age', 'ms', freshTimes),
  ];
}
