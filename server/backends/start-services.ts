import 'reflect-metadata';
import { join } from 'node:path';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import { ProtoflyError } from '../../core/errors.js';
import type { BackendDescriptor, DomainConfig, ServiceName } from '../../core/generated/types.js';
import type { VerifiedPackage } from '../../core/plugin.js';
import { exists, writeAtomic } from '../../node/files.js';
import { packageRoot } from '../../node/package-root.js';
import { CatalogueClient } from '../../runtime/catalogue.js';
import { pluginConfig } from '../../runtime/config.js';
import { Loader } from '../../runtime/loader.js';
import { TrustStore } from '../../runtime/trust.js';
import type { DomainKey } from '../catalogue/keys.js';
import { type PublishResult, publish } from '../catalogue/publish.js';
import { type Closable, registerBackend, type Services, TOKENS } from '../services/service.js';
import { importBackend } from './import-backend.js';

/** Where the backends protofly ships live: `plugins/backends/<name>`. */
export const BUILTIN_BACKENDS = join(packageRoot(import.meta.url), 'plugins/backends');

/** The backend of each service when a domain config names none. */
export const DEFAULT_BACKENDS: Readonly<Record<ServiceName, string>> = {
  identity: 'identity-static',
  location: 'location-memory',
  cluster: 'cluster-local',
  cdr: 'cdr-sqlite',
  provisioning: 'provisioning-identity',
  addressbook: 'addressbook-static',
};

/** Services in the order they are created: each may build on the ones before it. */
const ORDER: readonly ServiceName[] = [
  'identity',
  'location',
  'cluster',
  'cdr',
  'provisioning',
  'addressbook',
];

type Choices = DomainConfig['services'];

/** The backend name chosen for each service of `only` (default: every service). */
export function backendsChosen(
  choices: Choices,
  only: readonly ServiceName[] = ORDER,
): Partial<Record<ServiceName, string>> {
  return Object.fromEntries(
    ORDER.filter((s) => only.includes(s)).map((s) => [s, choices?.[s]?.backend ?? DEFAULT_BACKENDS[s]]),
  );
}

/**
 * Publishes, signed with the domain's key, each chosen backend that protofly ships. A backend
 * of another name must have been published into the catalogue already (`protofly publish`).
 */
export async function publishBackends(
  choices: Choices,
  key: DomainKey,
  catalogueDir: string,
  only?: readonly ServiceName[],
): Promise<PublishResult[]> {
  const published: PublishResult[] = [];
  for (const name of Object.values(backendsChosen(choices, only))) {
    const pluginDir = join(BUILTIN_BACKENDS, name);
    if (await exists(join(pluginDir, 'protofly.json'))) {
      published.push(await publish({ pluginDir, key, out: catalogueDir }));
    }
  }
  return published;
}

export interface StartServicesOptions<K extends ServiceName = ServiceName> {
  readonly domain: string;
  readonly key: DomainKey;
  readonly dataDir: string;
  /** The domain's own catalogue, where its backends are published. */
  readonly catalogueUrl: string;
  readonly choices: Choices;
  readonly peers: Readonly<Record<string, string>>;
  readonly allowDomains?: readonly string[];
  /** Only these services (each may build on those before it); default every service. */
  readonly only?: readonly K[];
}

/** A domain's services, created from its verified backends. */
export interface DomainServices<K extends ServiceName = ServiceName> {
  /** Provisioning is absent where the identity keeps no user directory and none was asked for. */
  readonly services: Pick<Services, Exclude<K, 'provisioning'>> & Partial<Pick<Services, K & 'provisioning'>>;
  /** The descriptor of each backend, as verified. */
  readonly backends: readonly BackendDescriptor[];
  /** Closes every service, the last created first. */
  close(): Promise<void>;
}

/**
 * Loads the chosen backend of every service (or of `only`) from the domain's own catalogue through the
 * verifying loader, trusting the domain's own key only (a backend runs in-process with the
 * domain's privileges), imports it and creates its service in a container of the domain's,
 * each with its validated configuration.
 *
 * @throws ProtoflyError from the loader (`PF_ERR_SIGNATURE`, `PF_ERR_UNTRUSTED_KEY`, ...),
 *   `PF_ERR_SCHEMA` for a configuration its schema refuses, `PF_ERR_CONFIG` for a backend of
 *   another service or one that fails to start.
 */
export async function startServices<K extends ServiceName = ServiceName>(
  options: StartServicesOptions<K>,
): Promise<DomainServices<K>> {
  const { domain, key, dataDir } = options;
  const loader = new Loader({
    trust: new TrustStore({ mode: 'pinned', pinned: { [domain]: [key.publicJwk] } }),
    catalogue: new CatalogueClient({ catalogues: { [domain]: options.catalogueUrl } }),
  });
  const container = rootContainer.createChildContainer();
  const started: Closable[] = [];
  const backends: BackendDescriptor[] = [];
  const close = async () => {
    for (const s of started.reverse()) await s.close?.();
  };
  try {
    for (const [service, name] of Object.entries(backendsChosen(options.choices, options.only)) as [
      ServiceName,
      string,
    ][]) {
      // An identity that keeps no user directory (identity-oidc: the users live at the provider)
      // leaves nothing to provision and no passwords for the admin port: unless the config asks
      // for provisioning by name (then its backend refuses), the domain has none.
      if (service === 'provisioning' && !options.choices?.provisioning && !hasDirectory(container)) continue;
      const pkg = (await loader.load({
        domain,
        kind: 'backend',
        name,
      })) as VerifiedPackage<BackendDescriptor>;
      if (pkg.descriptor.service !== service) {
        throw new ProtoflyError(
          'PF_ERR_CONFIG',
          `services.${service}: backend ${name} serves '${pkg.descriptor.service}'`,
          { service, backend: name },
        );
      }
      const backend = await importBackend(pkg, join(dataDir, 'backends'));
      const config = pluginConfig(pkg.descriptor, options.choices?.[service]?.config ?? {});
      started.push(
        await registerBackend(container, service, backend, {
          domain,
          config,
          dataDir,
          key,
          peers: options.peers,
          writeAtomic,
          ...(options.allowDomains ? { allowDomains: options.allowDomains } : {}),
        }),
      );
      backends.push(pkg.descriptor);
    }
  } catch (err) {
    await close();
    throw err;
  }
  const services = Object.fromEntries(
    ORDER.filter((s) => (options.only?.includes(s as K) ?? true) && container.isRegistered(TOKENS[s])).map(
      (s) => [s, container.resolve(TOKENS[s])],
    ),
  ) as unknown as DomainServices<K>['services'];
  return { services, backends, close };
}

function hasDirectory(container: DependencyContainer): boolean {
  return (
    container.isRegistered(TOKENS.identity) &&
    container.resolve<Services['identity']>(TOKENS.identity).users !== undefined
  );
}
