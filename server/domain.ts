import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { DomainConfig } from '../core/generated/types.js';
import { validateDomainConfig } from '../core/generated/validators.js';
import { assertValid } from '../core/validate.js';
import { exists } from '../node/files.js';
import { packageRoot } from '../node/package-root.js';
import { type DomainKey, generateDomainKey, readDomainKey } from './catalogue/keys.js';
import { type PublishResult, publish } from './catalogue/publish.js';
import { type CatalogueServer, createCatalogueServer } from './catalogue/server.js';
import { httpKeysOf } from './identity/keys-of.js';
import { StaticIdentity } from './identity/static-identity.js';
import { readUsersFile, type Users } from './identity/users-file.js';
import { type MessagingNode, startMessagingNode } from './messaging-node/messaging-node.js';

/**
 * One domain, everything a provider runs for it in one process: its signing key (made on
 * first start, kept in the data directory), its catalogue with the built-in stubs published
 * and signed for this deployment, its identity, and its messaging node. `protofly serve`
 * runs one; `protofly demo` runs two.
 */
export interface RunningDomain {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly nodeUrl: string;
  readonly adminUrl: string;
  readonly key: DomainKey;
  readonly identity: StaticIdentity;
  readonly published: readonly PublishResult[];
  readonly dataDir: string;
  /** Shuts the messaging node down gracefully (clients are told to reconnect) and starts it again on the same port. */
  restartNode(): Promise<void>;
  close(): Promise<void>;
}

export interface DomainOptions {
  /** Users, when not read from a users file (the demo makes its own). */
  readonly users?: Users;
  readonly log?: Logger;
}

/** The stubs every protofly domain serves unless its config lists others. */
export const BUILTIN_STUBS = [join(packageRoot(import.meta.url), 'plugins/stubs/json-ws')];

/**
 * Validates a domain config and starts the domain.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming a wrong setting, `PF_ERR_CONFIG` for unreadable files.
 */
export async function startDomain(config: unknown, options: DomainOptions = {}): Promise<RunningDomain> {
  assertValid(validateDomainConfig, config, 'domain config');
  const c: DomainConfig = config;
  const log = options.log ?? pino({ name: c.domain });
  const host = c.host ?? '127.0.0.1';
  const dataDir = resolve(c.dataDir ?? join('.protofly', c.domain));
  const key = await domainKey(c.domain, join(dataDir, 'keys'), log);
  const users = options.users ?? (await usersOf(c, dataDir, log));
  const identity = new StaticIdentity({
    domain: c.domain,
    key,
    users,
    keysOf: httpKeysOf({ origins: (c.peers ?? {}) as Record<string, string> }),
    ...(c.trust?.allowDomains ? { allowDomains: c.trust.allowDomains } : {}),
  });

  const catalogueDir = join(dataDir, 'catalogue');
  const tls = c.tls ? await readTls(c.tls) : undefined;
  const catalogue: CatalogueServer = createCatalogueServer({ dir: catalogueDir, ...(tls ? { tls } : {}) });
  const nodeOptions = {
    domain: c.domain,
    identity,
    host,
    port: c.ports?.messaging ?? 0,
    adminPort: c.ports?.admin ?? 0,
    log: log.child({ component: 'messaging-node' }),
    ...(c.limits ?? {}),
  };
  let node: MessagingNode = await startMessagingNode(nodeOptions);
  const catalogueUrl = await catalogue.listen(c.ports?.catalogue ?? 0, host).catch(async (err: unknown) => {
    await node.close();
    throw err;
  });

  // The built-in stubs learn where this domain's node is: their `url` default and only endpoint.
  const published: PublishResult[] = [];
  try {
    for (const pluginDir of c.stubs?.map((s) => resolve(s)) ?? BUILTIN_STUBS) {
      const builtin = BUILTIN_STUBS.includes(pluginDir);
      const deployment = builtin
        ? { endpoints: [`${node.url.replace(/\/?$/, '/')}`], defaults: { url: node.url } }
        : undefined;
      const result = await publish({
        pluginDir,
        key,
        out: catalogueDir,
        ...(deployment ? { deployment, redeploy: true } : {}),
      });
      published.push(result);
      const d = result.descriptor;
      log.info(
        { stub: `${d.name}@${d.version}`, integrity: d.sourcePackage.integrity, changed: result.changed },
        'published',
      );
    }
  } catch (err) {
    await Promise.all([node.close(), catalogue.close()]);
    throw err;
  }

  return {
    domain: c.domain,
    catalogueUrl,
    get nodeUrl() {
      return node.url;
    },
    get adminUrl() {
      return node.adminUrl;
    },
    key,
    identity,
    published,
    dataDir,
    async restartNode() {
      const { port } = node;
      const adminPort = Number(new URL(node.adminUrl).port);
      await node.close();
      node = await startMessagingNode({ ...nodeOptions, port, adminPort });
    },
    async close() {
      await Promise.all([node.close(), catalogue.close()]);
    },
  };
}

/** The domain's signing key: read, or made and kept on first start. */
async function domainKey(domain: string, dir: string, log: Logger): Promise<DomainKey> {
  const file = join(dir, `${domain}.key`);
  if (await exists(file)) return readDomainKey(file, domain);
  const key = await generateDomainKey(domain, dir);
  log.info({ kid: key.publicJwk.kid, file }, 'generated the domain signing key');
  return key;
}

async function usersOf(c: DomainConfig, dataDir: string, log: Logger): Promise<Users> {
  const configured = c.services?.identity?.config?.usersFile;
  const file = typeof configured === 'string' ? resolve(configured) : join(dataDir, 'users.yaml');
  if (typeof configured === 'string' || (await exists(file))) return readUsersFile(file);
  log.warn({ file }, 'no users file: nobody of this domain can sign in');
  return new Map();
}

async function readTls(tls: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  return { cert: await readFile(tls.cert, 'utf8'), key: await readFile(tls.key, 'utf8') };
}

/** Several domains on loopback that know where each other's catalogues and keys are. */
export interface LocalDomains {
  readonly byName: ReadonlyMap<string, RunningDomain>;
  /** Catalogue base URL per domain: what a runtime's (and an identity's) config needs. */
  readonly peers: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/**
 * Starts each named domain in `<dir>/<domain>`, in order; every domain finds the others' keys
 * (to admit their users) through one shared peers map, filled as they start.
 */
export async function startLocalDomains(
  names: readonly string[],
  dir: string,
  options: DomainOptions & { limits?: DomainConfig['limits'] } = {},
): Promise<LocalDomains> {
  const peers: Record<string, string> = {};
  const byName = new Map<string, RunningDomain>();
  const close = () => Promise.allSettled([...byName.values()].map((d) => d.close())).then(() => {});
  try {
    for (const domain of names) {
      const config = {
        domain,
        dataDir: join(dir, domain),
        peers,
        ...(options.limits ? { limits: options.limits } : {}),
      };
      const running = await startDomain(config, options);
      peers[domain] = running.catalogueUrl;
      byName.set(domain, running);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { byName, peers, close };
}
