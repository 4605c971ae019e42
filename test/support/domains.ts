import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseAddress } from '../../core/address.js';
import type { DomainConfig } from '../../core/generated/types.js';
import { createNodeRuntime, type NodeRuntime, type NodeRuntimeOptions } from '../../entry/node-runtime.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { type RunningDomain, startLocalDomains } from '../../server/domain.js';

/** Real domains on loopback (catalogue, identity, messaging node each) and runtimes for their users. */
export interface Domains {
  readonly byName: ReadonlyMap<string, RunningDomain>;
  /** Catalogue base URL per domain: what a runtime's config says. */
  readonly catalogues: Readonly<Record<string, string>>;
  /**
   * A runtime for `address` (a user of one of these domains), holding tokens from its home
   * domain; its data directory is a fresh one under the domains' unless `options` name one.
   */
  runtime(address: string, options?: Partial<NodeRuntimeOptions>): NodeRuntime;
  close(): Promise<void>;
}

/** What the domains are started with besides their names. */
export interface DomainsOptions {
  /** Which pages may use every domain from a browser. Default none. */
  readonly browsers?: DomainConfig['browsers'];
  /** Users who log in with a password (name → scrypt hash), in every domain. Default none. */
  readonly users?: ReadonlyMap<string, string>;
}

/**
 * Starts the domains in `dir` (one data directory each), a fresh one by default, removed on
 * close; tokens are issued directly, so no users file is needed.
 */
export async function startDomains(
  names: readonly string[],
  dir?: string,
  options: DomainsOptions = {},
): Promise<Domains> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'pf-domains-')));
  const log = pino({ level: process.env.PF_LOG ?? 'silent' });
  const local = await startLocalDomains(names, root, {
    users: options.users ?? new Map(),
    log,
    limits: { messagesPerSecond: 5000, offlineMessages: 5000 },
    ...(options.browsers ? { browsers: options.browsers } : {}),
  });
  const runtimes: NodeRuntime[] = [];
  return {
    byName: local.byName,
    catalogues: local.peers,
    runtime(address, options = {}) {
      const home = local.byName.get(parseAddress(address).domain);
      if (!home) throw new Error(`no domain for ${address}`);
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        identity: { address, token: (audience) => home.identity.issue(address, 600, audience) },
        catalogues: local.peers,
        dataDir: join(root, 'runtimes', String(runtimes.length)),
        ...options,
      });
      runtimes.push(rt);
      return rt;
    },
    async close() {
      await Promise.allSettled(runtimes.map((r) => r.close()));
      await local.close();
      if (dir === undefined) await rm(root, { recursive: true, force: true });
    },
  };
}
