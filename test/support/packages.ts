import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StubPackage } from '../../core/plugin.js';
import { CatalogueClient } from '../../runtime/catalogue.js';
import { Loader } from '../../runtime/loader.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { TrustStore } from '../../runtime/trust.js';
import { testCatalogue } from './domain-catalogue.js';

const cache = new Map<string, Promise<StubPackage>>();

/**
 * The one way tests turn a stub folder into what a sandbox host takes, the real way: the stub
 * is published (bundled, hashed, signed) into a catalogue of its own domain `<name>.test`,
 * served on loopback, and loaded through the verifying loader with that domain's key pinned.
 */
export function verifiedPackageOf(pluginDir: string): Promise<StubPackage> {
  let pkg = cache.get(pluginDir);
  if (!pkg) {
    pkg = load(pluginDir);
    cache.set(pluginDir, pkg);
  }
  return pkg;
}

async function load(pluginDir: string): Promise<StubPackage> {
  const { name } = JSON.parse(await readFile(join(pluginDir, 'protofly.json'), 'utf8')) as { name: string };
  const domain = `${name}.test`;
  const cat = await testCatalogue(domain);
  // Shared by every test of the process: it must not keep the process alive.
  cat.server.server.unref();
  await cat.publish(pluginDir, true);
  const loader = new Loader({
    policy: developmentPolicy,
    trust: new TrustStore({ mode: 'pinned', pinned: { [domain]: [cat.key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [domain]: cat.url } }),
  });
  return (await loader.load({ domain })) as StubPackage;
}

/** A stub folder's manifest and bundle: the package's own helper (`protofly/stub/testing`). */
export { stubFolder } from '../../entry/stub-testing.js';
