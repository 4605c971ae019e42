import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseAddress } from '../../core/address.js';
import type { SandboxHost } from '../../core/host.js';
import { createNodeRuntime, type NodeRuntime, type NodeRuntimeOptions } from '../../node/runtime.js';
import { type RunningDomain, startDomain } from '../../server/domain.js';

/** Real domains on loopback (catalogue, identity, messaging node each) that know where the others are. */
export interface Domains {
  readonly byName: ReadonlyMap<string, RunningDomain>;
  /** Catalogue base URL per domain: what a runtime's config says. */
  readonly catalogues: Readonly<Record<string, string>>;
  /** A runtime for `address` (a user of one of these domains), holding tokens from its home domain. */
  runtime(address: string, options?: Partial<NodeRuntimeOptions> & { host?: SandboxHost }): NodeRuntime;
  close(): Promise<void>;
}

/** Starts each domain with its users (names only: tokens are issued directly) in a fresh data directory. */
export async function startDomains(spec: Record<string, readonly string[]>): Promise<Domains> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-domains-'));
  // Filled as each domain starts; identities look foreign keys up here when a token arrives.
  const peers: Record<string, string> = {};
  const byName = new Map<string, RunningDomain>();
  const runtimes: NodeRuntime[] = [];
  const log = pino({ level: process.env.PF_LOG ?? 'silent' });
  for (const [domain] of Object.entries(spec)) {
    const running = await startDomain(
      { domain, dataDir: join(dir, domain), peers, limits: { messagesPerSecond: 5000 } },
      { users: new Map(), log },
    );
    peers[domain] = running.catalogueUrl;
    byName.set(domain, running);
  }
  return {
    byName,
    catalogues: peers,
    runtime(address, options = {}) {
      const home = byName.get(parseAddress(address).domain);
      if (!home) throw new Error(`no domain for ${address}`);
      const rt = createNodeRuntime({
        identity: { address, token: (audience) => home.identity.issue(address, 600, audience) },
        catalogues: peers,
        ...options,
      });
      runtimes.push(rt);
      return rt;
    },
    async close() {
      await Promise.allSettled(runtimes.map((r) => r.close()));
      await Promise.allSettled([...byName.values()].map((d) => d.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
