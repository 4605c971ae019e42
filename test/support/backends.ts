import 'reflect-metadata';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container as rootContainer } from 'tsyringe';
import type { BackendDescriptor, ServiceName } from '../../core/generated/types.js';
import type { VerifiedPackage } from '../../core/plugin.js';
import { writeAtomic } from '../../node/files.js';

/** How a server writes files for its backends (`BackendContext.writeAtomic`), for backends' unit tests. */
export { writeAtomic };

import { CatalogueClient } from '../../runtime/catalogue.js';
import { pluginConfig } from '../../runtime/config.js';
import { Loader } from '../../runtime/loader.js';
import { TrustStore } from '../../runtime/trust.js';
import { importBackend } from '../../server/backends/import-backend.js';
import { BUILTIN_BACKENDS } from '../../server/backends/start-services.js';
import { type Backend, registerBackend, type Services, TOKENS } from '../../server/services/service.js';
import { type TestCatalogue, testCatalogue } from './domain-catalogue.js';

/** The domain the test backends are published by. */
export const BACKENDS_DOMAIN = 'backends.test';
/** Where verified backends are imported from (`<sha384-hex>.mjs`). */
export const BACKENDS_DIR = join(tmpdir(), `pf-backends-${process.pid}`);

let catalogue: Promise<TestCatalogue> | undefined;
const loaded = new Map<string, Promise<{ backend: Backend; descriptor: BackendDescriptor }>>();

/**
 * A built-in backend the real way: published (bundled for Node, signed) into a catalogue of
 * its own domain on loopback, loaded through the verifying loader with that domain's key
 * pinned, and imported from its verified bytes. Once per process and backend.
 */
export function verifiedBackend(name: string): Promise<{ backend: Backend; descriptor: BackendDescriptor }> {
  let pending = loaded.get(name);
  if (!pending) {
    pending = load(name);
    loaded.set(name, pending);
  }
  return pending;
}

async function load(name: string): Promise<{ backend: Backend; descriptor: BackendDescriptor }> {
  catalogue ??= testCatalogue(BACKENDS_DOMAIN).then((cat) => {
    // Shared by every test of the process: it must not keep the process alive.
    cat.server.server.unref();
    return cat;
  });
  const cat = await catalogue;
  await cat.publish(join(BUILTIN_BACKENDS, name));
  const loader = new Loader({
    trust: new TrustStore({ mode: 'pinned', pinned: { [BACKENDS_DOMAIN]: [cat.key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [BACKENDS_DOMAIN]: cat.url } }),
  });
  const pkg = (await loader.load({
    domain: BACKENDS_DOMAIN,
    kind: 'backend',
    name,
  })) as VerifiedPackage<BackendDescriptor>;
  return { backend: await importBackend(pkg, BACKENDS_DIR), descriptor: pkg.descriptor };
}

/**
 * Creates `service` from the verified backend `name` with `config` (defaults filled in and
 * checked), in a fresh data directory unless one is given, over the services in `uses`.
 */
export async function serviceOf<K extends ServiceName>(
  service: K,
  name: string,
  config: Record<string, unknown> = {},
  uses: Partial<Services> = {},
  dataDir?: string,
): Promise<Services[K]> {
  const { backend, descriptor } = await verifiedBackend(name);
  const cat = await catalogue!;
  const container = rootContainer.createChildContainer();
  for (const [s, instance] of Object.entries(uses))
    container.registerInstance(TOKENS[s as ServiceName], instance);
  return registerBackend(container, service, backend, {
    domain: BACKENDS_DOMAIN,
    config: pluginConfig(descriptor, config),
    dataDir: dataDir ?? (await mkdtemp(join(tmpdir(), `pf-${name}-`))),
    key: cat.key,
    peers: {},
    writeAtomic,
  });
}
