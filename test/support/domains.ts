import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseAddress } from '../../core/address.js';
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

/**
 * Starts the domains in `dir` (one data directory each), a fresh one by default, removed on
 * close; tokens are issued directly, so no users file is needed.
 */
export async function startDomains(names: readonly string[], dir?: string): Promise<Domains> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'pf-domains-')));
  const log = pino({ level: process.env.PF_LOG ?? 'silent' });
  const local = await startLocalDomains(names, root, {
    users: new Map(),
    log,
    limits: { messagesPerSecond: 5000, offlineMessages: 5000 },
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
