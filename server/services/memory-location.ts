import type { Binding, Location } from './service.js';

export interface MemoryLocationOptions {
  /** Milliseconds a hyperty address stays its owner's after their last session of it ends. Default 300000. */
  readonly retainMs?: number;
}

/**
 * The {@link Location} service in this process's memory: what one messaging node needs, and
 * what the `location-memory` backend serves. Lookups answer synchronously, so the node routes
 * without waiting on a promise.
 */
export class MemoryLocation implements Location {
  readonly scope = 'process';
  /** Bindings per address, newest first. */
  readonly #byAddress = new Map<string, Binding[]>();
  /** Owners of addresses whose sessions are gone, until when; in release order, so in expiry order. */
  readonly #retained = new Map<string, { owner: string; until: number }>();
  readonly #retainMs: number;

  constructor(options: MemoryLocationOptions = {}) {
    this.#retainMs = options.retainMs ?? 300_000;
  }

  async register(binding: Binding): Promise<boolean> {
    const now = Date.now();
    const list = this.#live(binding.address, now);
    if (binding.address !== binding.owner) {
      const holder = list[0]?.owner ?? this.#retainedOwner(binding.address, now);
      if (holder !== undefined && holder !== binding.owner) return false;
      this.#retained.delete(binding.address);
    }
    const rest = list.filter((r) => r.session !== binding.session);
    const at = rest.findIndex((r) => r.since <= binding.since);
    rest.splice(at < 0 ? rest.length : at, 0, binding);
    this.#byAddress.set(binding.address, rest);
    return true;
  }

  async unregister(address: string, session: string): Promise<void> {
    const now = Date.now();
    const list = this.#live(address, now);
    const gone = list.find((r) => r.session === session);
    if (!gone) return;
    const rest = list.filter((r) => r !== gone);
    if (rest.length) return void this.#byAddress.set(address, rest);
    this.#byAddress.delete(address);
    if (address !== gone.owner)
      this.#retained.set(address, { owner: gone.owner, until: now + this.#retainMs });
    this.#forgetRetained(now);
  }

  lookup(address: string): readonly Binding[] {
    return this.#live(address, Date.now());
  }

  /** The unexpired bindings of `address`; expired ones are dropped (allocating only then). */
  #live(address: string, now: number): Binding[] {
    const list = this.#byAddress.get(address);
    if (!list) return [];
    let expired = false;
    for (const r of list) expired ||= r.expires <= now;
    if (!expired) return list;
    const live = list.filter((r) => r.expires > now);
    if (live.length) this.#byAddress.set(address, live);
    else this.#byAddress.delete(address);
    return live;
  }

  #retainedOwner(address: string, now: number): string | undefined {
    const kept = this.#retained.get(address);
    return kept && kept.until > now ? kept.owner : undefined;
  }

  #forgetRetained(now: number): void {
    for (const [address, kept] of this.#retained) {
      if (kept.until > now) return;
      this.#retained.delete(address);
    }
  }
}
