import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createNodeRuntime, type NodeRuntime, type NodeRuntimeOptions } from '../../entry/node-runtime.js';
import type { Conversation, Incoming } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { generateDomainKey } from '../../server/catalogue/keys.js';
import { type Kamailio, type KamailioOptions, startKamailio } from '../../server/kamailio.js';
import { type JsSipUser, jssipUser } from '../../server/sip-client/jssip-user.js';
import { type RunningSipDomain, startSipDomain } from '../../server/sip-domain.js';
import { type Domains, startDomains } from './domains.js';
import { type SipJsUser, sipjsUser } from './sipjs-user.js';

/** c.example, a SIP domain (Kamailio + its protofly catalogue and guest service), beside protofly domains. */
export interface SipWorld {
  readonly kamailio: Kamailio;
  readonly sip: RunningSipDomain;
  /** The protofly (json-ws) domains, when asked for. */
  readonly domains: Domains | undefined;
  /** Catalogue base URL per domain, c.example's included. */
  readonly catalogues: Readonly<Record<string, string>>;
  /** A runtime for a user of c.example (`password` in its stub config) or of a protofly domain (tokens from it). */
  runtime(address: string, options?: Partial<NodeRuntimeOptions> & { password?: string }): NodeRuntime;
  /** A JsSIP user agent of c.example, registered, at the URL the domain publishes (trusting `ca` for wss). */
  jssip(user: string, options?: { ca?: string }): Promise<JsSipUser>;
  /** A SIP.js user agent of c.example, registered: the second, independent SIP library. */
  sipjs(user: string): Promise<SipJsUser>;
  /** Ends the runtimes and user agents made so far (their bindings go): one test's users do not ring in the next. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export const SIP_DOMAIN = 'c.example';

/** Fast reconnection and short transaction timers, for tests that break connections. */
export const FAST = { reconnectDelayMs: 50, reconnectDelayMaxMs: 200, randomizationFactor: 0 };

/**
 * Starts Kamailio for c.example with `users`, its catalogue and guest service, and the protofly
 * domains named. With `kamailioOptions.tls`, the domain publishes Kamailio's wss listener, and
 * its guest service listens on wss with the same certificate.
 */
export async function startSipWorld(
  users: Readonly<Record<string, string>>,
  protoflyDomains: readonly string[] = [],
  kamailioOptions: Partial<KamailioOptions> = {},
  guestTtlSeconds?: number,
): Promise<SipWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-sip-'));
  const domains = protoflyDomains.length > 0 ? await startDomains(protoflyDomains) : undefined;
  const catalogues: Record<string, string> = (domains?.catalogues as Record<string, string>) ?? {};
  const kamailio = await startKamailio({ domain: SIP_DOMAIN, users, ...kamailioOptions });
  const sip = await startSipDomain({
    domain: SIP_DOMAIN,
    key: await generateDomainKey(SIP_DOMAIN, join(dir, 'keys')),
    dataDir: dir,
    sipUrl: kamailio.wssUrl ?? kamailio.wsUrl,
    rpcUrl: kamailio.rpcUrl,
    peers: catalogues,
    ...(guestTtlSeconds ? { guestTtlSeconds } : {}),
    // A deployment on wss serves its guests on wss too (same certificate: both are 127.0.0.1).
    ...(kamailioOptions.tls ? { guestTls: kamailioOptions.tls } : {}),
  });
  // The same object every runtime and identity reads: c.example is found like any other domain.
  catalogues[SIP_DOMAIN] = sip.catalogueUrl;
  const runtimes: NodeRuntime[] = [];
  let made = 0;
  const agents: { stop(): Promise<void> }[] = [];
  const reset = async () => {
    await Promise.allSettled(agents.splice(0).map((a) => a.stop()));
    await Promise.allSettled(runtimes.splice(0).map((r) => r.close()));
  };
  return {
    kamailio,
    sip,
    domains,
    catalogues,
    runtime(address, options = {}) {
      const { password, ...rest } = options;
      const home = address.split('/')[2]!;
      const stubConfig = { [SIP_DOMAIN]: { ...FAST, ...(password ? { password } : {}) } };
      if (home === SIP_DOMAIN) {
        const rt = createNodeRuntime({
          policy: developmentPolicy,
          identity: { address },
          catalogues,
          stubConfig,
          dataDir: join(dir, 'runtimes', String(made++)),
          ...rest,
        });
        runtimes.push(rt);
        return rt;
      }
      if (!domains) throw new Error(`no protofly domain for ${address}`);
      const rt = domains.runtime(address, { stubConfig, ...rest });
      runtimes.push(rt);
      return rt;
    },
    async jssip(user, options = {}) {
      const url = kamailio.wssUrl ?? kamailio.wsUrl;
      const agent = await jssipUser(url, SIP_DOMAIN, user, users[user] ?? '', options);
      agents.push(agent);
      return agent;
    },
    async sipjs(user) {
      const agent = await sipjsUser(kamailio.wssUrl ?? kamailio.wsUrl, SIP_DOMAIN, user, users[user] ?? '');
      agents.push(agent);
      return agent;
    },
    reset,
    async close() {
      await reset();
      await domains?.close();
      await sip.close();
      await kamailio.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The next message a conversation receives. */
export function nextMessage(c: Conversation): Promise<Incoming> {
  return new Promise((resolve) => {
    const off = c.on('message', (m) => {
      off();
      resolve(m);
    });
  });
}

/** A runtime's next incoming conversation. */
export function nextConversation(rt: NodeRuntime): Promise<Conversation> {
  return new Promise((resolve) => {
    const off = rt.runtime.on('conversation', (c) => {
      off();
      resolve(c);
    });
  });
}

/** The bodies a conversation receives, one at a time. */
export function bodies(c: Conversation): () => Promise<Record<string, unknown>> {
  const it = c[Symbol.asyncIterator]();
  return async () => (await it.next()).value.body as Record<string, unknown>;
}

/**
 * The hooks of a file of SIP tests: before them, the world `start` makes and a worker host,
 * given to `use`; after each test, the runtimes and user agents it made go; after them all,
 * both close.
 */
export function sipWorldForFile(
  start: () => Promise<SipWorld>,
  use: (world: SipWorld, host: NodeWorkerHost) => void,
): void {
  let world: SipWorld | undefined;
  let host: NodeWorkerHost | undefined;
  beforeAll(async () => {
    world = await start();
    host = new NodeWorkerHost({ policy: developmentPolicy });
    await host.ready();
    use(world, host);
  });
  afterEach(() => world?.reset());
  afterAll(async () => {
    await world?.close();
    await host?.terminate();
  });
}
