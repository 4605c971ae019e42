import { MemoryGroups } from './memory-groups.js';
import { OfflineStore } from './offline-store.js';
import type { Cluster, ClusterMember, Frame, HoldLimits } from './service.js';

export interface LocalClusterOptions {
  /** This node's id. Default `local`. */
  readonly node?: string;
  /** Frames held in all. Default 100000. */
  readonly total?: number;
  /** Milliseconds between sweeps of expired held frames. Default 30000. */
  readonly sweepMs?: number;
}

/**
 * The {@link Cluster} service of a domain served by one process: there is no other node to
 * deliver to, and held frames and groups stay in memory. What the `cluster-local` backend serves.
 */
export class LocalCluster implements Cluster {
  readonly node: string;
  readonly groups = new MemoryGroups(() => this.#member);
  readonly #store: OfflineStore;
  readonly #sweepMs: number;
  #member: ClusterMember | undefined;
  #policy: string | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(options: LocalClusterOptions = {}) {
    this.node = options.node ?? 'local';
    this.#store = new OfflineStore(options.total ?? 100_000);
    this.#sweepMs = options.sweepMs ?? 30_000;
  }

  async join(member: ClusterMember): Promise<void> {
    this.#member = member;
    clearInterval(this.#sweep);
    this.#sweep = setInterval(() => this.#store.sweep(performance.now()), this.#sweepMs);
    // A timer must not keep a process alive that has nothing else to do.
    (this.#sweep as { unref?: () => void }).unref?.();
  }

  async deliver(node: string, session: string, frame: Frame): Promise<boolean> {
    return node === this.node && (this.#member?.deliver(session, frame) ?? false);
  }

  async hold(address: string, frame: Frame, limits: HoldLimits): Promise<void> {
    this.#store.put(address, frame, performance.now(), limits);
    this.#member?.held(address);
  }

  async release(address: string): Promise<readonly Frame[]> {
    return this.#store.take(address, performance.now());
  }

  async held(): Promise<number> {
    return this.#store.size;
  }

  async nodes(): Promise<readonly string[]> {
    return [this.node];
  }

  async sharePolicy(rules: string): Promise<void> {
    this.#policy = rules;
    this.#member?.policy(rules);
  }

  async sharedPolicy(): Promise<string | undefined> {
    return this.#policy;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#member = undefined;
  }
}
