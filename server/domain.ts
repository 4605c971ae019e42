import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { ProtoflyError } from '../core/errors.js';
import type { BackendDescriptor, DomainConfig } from '../core/generated/types.js';
import { assertWritable, exists, writeAtomic } from '../node/files.js';
import { packageRoot } from '../node/package-root.js';
import { OIDC_LOGIN } from '../runtime/code-request.js';
import { BROWSER_ORIGINS } from '../runtime/password-login.js';
import { type DomainServices, publishBackends, startServices } from './backends/start-services.js';
import { type DomainKey, generateDomainKey, readDomainKey } from './catalogue/keys.js';
import { layout } from './catalogue/layout.js';
import { type PublishResult, publish } from './catalogue/publish.js';
import { type CatalogueServer, createCatalogueServer } from './catalogue/server.js';
import { checkDomainConfig } from './domain-config.js';
import { TOKEN_PATH, tokenEndpoint } from './identity/token-endpoint.js';
import { type MessagingNode, startMessagingNode } from './messaging-node/messaging-node.js';
import { originOf } from './page-origins.js';
import { Policy } from './policy/policy.js';
import type { Identity } from './services/service.js';

/**
 * One domain, everything a provider runs for it in one process: its signing key (made on
 * first start, kept in the data directory), its catalogue with the built-in stubs published
 * and signed for this deployment, its services (each from a backend published in that
 * catalogue and loaded verified), and its messaging node. `protofly serve` runs one;
 * `protofly demo` runs two; `protofly serve --cluster` runs the node part in several processes.
 */
export interface RunningDomain {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly nodeUrl: string;
  readonly adminUrl: string;
  readonly key: DomainKey;
  readonly identity: Identity;
  readonly services: DomainServices['services'];
  /** The stubs published for this deployment. */
  readonly published: readonly PublishResult[];
  /** The backends serving the services, as verified. */
  readonly backends: readonly BackendDescriptor[];
  readonly dataDir: string;
  /** Shuts the messaging node down gracefully (clients are told to reconnect) and starts it again on the same port. */
  restartNode(): Promise<void>;
  close(): Promise<void>;
}

export interface DomainOptions {
  /** Users (name → scrypt hash) given to identity-static instead of a users file (the demo makes its own). */
  readonly users?: ReadonlyMap<string, string>;
  readonly log?: Logger;
  /**
   * The messaging URL clients are given (the stubs' `url`, the token endpoint's origin): the
   * load balancer in front of the domain's hosts. Default: this host's own node.
   */
  readonly publicUrl?: string;
}

/** The stubs every protofly domain serves unless its config lists others. */
export const BUILTIN_STUBS = [join(packageRoot(import.meta.url), 'plugins/stubs/json-ws')];

/** A domain config checked against its schema, with what every process of the domain derives from it. */
export interface PreparedDomain {
  readonly config: DomainConfig;
  readonly host: string;
  readonly dataDir: string;
  readonly catalogueDir: string;
  readonly key: DomainKey;
  readonly log: Logger;
}

/**
 * Validates a domain config, checks that its data directory can be written, and reads (or, the
 * first time, makes) the domain's key.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming every wrong setting, `PF_ERR_CONFIG` for
 *   settings that cannot work together, `PF_ERR_STORAGE` when the data directory is read-only,
 *   full or not writable (its CDRs, catalogue and backends live there).
 */
export async function prepareDomain(config: unknown, options: DomainOptions = {}): Promise<PreparedDomain> {
  checkDomainConfig(config);
  const c = withInlineUsers(config, options.users);
  const log = options.log ?? pino({ name: c.domain });
  const dataDir = resolve(c.dataDir ?? join('.protofly', c.domain));
  // One clear refusal up front rather than a failure in whichever part writes first.
  await assertWritable(dataDir);
  const key = await domainKey(c.domain, join(dataDir, 'keys'), log);
  return {
    config: c,
    host: c.host ?? '127.0.0.1',
    dataDir,
    catalogueDir: join(dataDir, 'catalogue'),
    key,
    log,
  };
}

/**
 * Validates a domain config and starts the domain.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming a wrong setting, `PF_ERR_CONFIG` for unreadable
 *   files or a setting that cannot work, and the loader's codes for a backend that does not verify.
 */
export async function startDomain(config: unknown, options: DomainOptions = {}): Promise<RunningDomain> {
  const d = await prepareDomain(config, options);
  const catalogue = await startCatalogue(d);
  const closing: (() => Promise<void>)[] = [() => catalogue.server.close()];
  const closeAll = async () => {
    for (const close of closing.reverse()) await close();
  };
  try {
    await publishBackends(d.config.services, d.key, d.catalogueDir);
    const node = await startDomainNode(d, catalogue.url);
    closing.push(() => node.close());
    const published = await publishStubs(d, options.publicUrl ?? node.url);
    await advertiseTokenEndpoint(d, options.publicUrl ?? node.url);
    return {
      domain: d.config.domain,
      catalogueUrl: catalogue.url,
      get nodeUrl() {
        return node.node.url;
      },
      get adminUrl() {
        return node.node.adminUrl;
      },
      key: d.key,
      identity: node.services.identity,
      services: node.services,
      published,
      backends: node.backends,
      dataDir: d.dataDir,
      restartNode: () => node.restart(),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Starts the domain's catalogue server. */
export async function startCatalogue(d: PreparedDomain): Promise<{ server: CatalogueServer; url: string }> {
  const tls = d.config.tls ? await readTls(d.config.tls) : undefined;
  const server = createCatalogueServer({ dir: d.catalogueDir, log: d.log, ...(tls ? { tls } : {}) });
  return { server, url: await server.listen(d.config.ports?.catalogue ?? 0, d.host) };
}

/** One messaging node of a domain with the services it runs on. */
export interface DomainNode {
  readonly node: MessagingNode;
  readonly url: string;
  readonly services: DomainServices['services'];
  readonly backends: readonly BackendDescriptor[];
  /** Closes the node and starts it again on the same ports, with the same services. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the domain's services from the backends published in its catalogue at
 * `catalogueUrl`, then a messaging node on them.
 *
 * @param portOffset - added to a configured admin port: the nth node process of a domain
 *   listens on admin port + n (the messaging port is shared).
 */
export async function startDomainNode(
  d: PreparedDomain,
  catalogueUrl: string,
  portOffset = 0,
): Promise<DomainNode> {
  const c = d.config;
  // Compiled before anything starts: rules that cannot be used stop the start.
  const policy = new Policy(c.domain, c.policy, d.log.child({ component: 'policy' }));
  const started = await startServices({
    domain: c.domain,
    key: d.key,
    dataDir: d.dataDir,
    catalogueUrl,
    choices: c.services,
    peers: (c.peers ?? {}) as Record<string, string>,
    ...(c.trust?.allowDomains ? { allowDomains: c.trust.allowDomains } : {}),
  });
  const { services } = started;
  const adminPort = c.ports?.admin ? c.ports.admin + portOffset : 0;
  const options = {
    domain: c.domain,
    identity: services.identity,
    location: services.location,
    cluster: services.cluster,
    cdr: { service: services.cdr, stub: await jsonWsStubOf(c) },
    provisioning: services.provisioning,
    addressBook: services.addressbook,
    policy,
    tokenEndpoint: tokenEndpoint({
      domain: c.domain,
      identity: services.identity,
      ...(c.browsers?.token ? { origins: c.browsers.token } : {}),
    }),
    host: d.host,
    port: c.ports?.messaging ?? 0,
    adminPort,
    log: d.log.child({ component: 'messaging-node' }),
    ...(c.limits ?? {}),
    ...(c.groups ? { groups: c.groups } : {}),
    ...(c.browsers?.messaging ? { origins: c.browsers.messaging } : {}),
  };
  let node: MessagingNode;
  try {
    if ((c.nodes ?? 1) > 1 && services.location.scope !== 'shared') {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `nodes: ${c.nodes} node processes need a shared location (services.location is ${started.backends.find((b) => b.service === 'location')?.name}); use protofly serve --cluster redis://...`,
        { nodes: c.nodes },
      );
    }
    node = await startMessagingNode(options);
  } catch (err) {
    await started.close();
    throw err;
  }
  return {
    get node() {
      return node;
    },
    get url() {
      return node.url;
    },
    services,
    backends: started.backends,
    async restart() {
      const { port } = node;
      await node.close();
      node = await startMessagingNode({ ...options, port, adminPort: Number(new URL(node.adminUrl).port) });
    },
    async close() {
      await node.close();
      await started.close();
    },
  };
}

/**
 * Publishes the domain's stubs, signed with its key. The built-in ones learn where this
 * domain's node is: `nodeUrl` becomes their `url` default and only endpoint.
 */
export async function publishStubs(d: PreparedDomain, nodeUrl: string): Promise<PublishResult[]> {
  const published: PublishResult[] = [];
  for (const pluginDir of stubDirs(d.config)) {
    const deployment = BUILTIN_STUBS.includes(pluginDir)
      ? { endpoints: [`${nodeUrl.replace(/\/?$/, '/')}`], defaults: { url: nodeUrl } }
      : undefined;
    const result = await publish({
      pluginDir,
      key: d.key,
      out: d.catalogueDir,
      ...(deployment ? { deployment, redeploy: true } : {}),
    });
    published.push(result);
    const s = result.descriptor;
    d.log.info(
      { stub: `${s.name}@${s.version}`, integrity: s.sourcePackage.integrity, changed: result.changed },
      'published',
    );
  }
  return published;
}

/**
 * Writes the domain's RFC 8414 metadata into its catalogue: the token endpoint is on the
 * messaging node's client port (each node process serves it), found from the catalogue a
 * runtime already knows for the domain.
 */
export async function advertiseTokenEndpoint(d: PreparedDomain, nodeUrl: string): Promise<void> {
  const url = new URL(TOKEN_PATH, nodeUrl.replace(/^ws/, 'http'));
  const oidc = oidcLogin(d.config);
  const metadata = {
    // The `iss` of the domain's tokens (a domain name, where RFC 8414 has a URL).
    issuer: d.config.domain,
    token_endpoint: url.href,
    grant_types_supported: ['password', 'refresh_token', ...(oidc ? ['authorization_code'] : [])],
    token_endpoint_auth_methods_supported: ['none'],
    // The pages the endpoint serves: a refused page cannot see why (the browser hides the
    // answer), so a runtime in one checks here first and says so (runtime/password-login.ts).
    [BROWSER_ORIGINS]: (d.config.browsers?.token ?? []).map(originOf),
    ...(oidc ? { [OIDC_LOGIN]: oidc } : {}),
  };
  await writeAtomic(layout.authorizationServer(d.catalogueDir), `${JSON.stringify(metadata, null, 2)}\n`);
}

/**
 * Where the domain's users log in, when its identity is identity-oidc: its provider and client
 * id (public; the secret stays in the config), which apps need to start the log-in.
 */
function oidcLogin(c: DomainConfig): { issuer: string; client_id: string } | undefined {
  const identity = c.services?.identity;
  if (identity?.backend !== 'identity-oidc') return undefined;
  const { issuer, clientId } = (identity.config ?? {}) as { issuer?: unknown; clientId?: unknown };
  // The backend checked its config when it started; anything else advertises nothing.
  if (typeof issuer !== 'string' || typeof clientId !== 'string') return undefined;
  return { issuer, client_id: clientId };
}

function stubDirs(c: DomainConfig): string[] {
  return c.stubs?.map((s) => resolve(s)) ?? BUILTIN_STUBS;
}

/** The stub (`name@version`) that speaks json-ws, the node's protocol, among the domain's: what its CDRs name. */
async function jsonWsStubOf(c: DomainConfig): Promise<string> {
  for (const dir of stubDirs(c)) {
    const m = JSON.parse(await readFile(join(dir, 'protofly.json'), 'utf8')) as Record<string, string>;
    if (m.protocol === 'json-ws') return `${m.name}@${m.version}`;
  }
  return 'json-ws';
}

/** The config with `users` given to identity-static inline, unless the config chose otherwise. */
function withInlineUsers(c: DomainConfig, users: ReadonlyMap<string, string> | undefined): DomainConfig {
  const identity = c.services?.identity;
  if (!users || (identity && identity.backend !== 'identity-static')) return c;
  return {
    ...c,
    services: {
      ...c.services,
      identity: {
        backend: 'identity-static',
        config: { ...identity?.config, users: Object.fromEntries(users) },
      },
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
  options: DomainOptions & { limits?: DomainConfig['limits']; browsers?: DomainConfig['browsers'] } = {},
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
        ...(options.browsers ? { browsers: options.browsers } : {}),
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
