import { crc32 } from 'node:zlib';
import { Cluster } from 'ioredis';
import type { Binding, Location } from '../../../server/services/service.js';
import {
  closeRedis,
  defineScript,
  onSubscriptionsBack,
  onSubscriptionsLost,
  type RedisLink,
  type Script,
} from '../redis-connection.js';

/**
 * Registers a session: refused (0) when another owner holds the address, else the owner is
 * recorded for the binding's life plus the retention time, and the session's entry is
 * set in the address's hash, which lives as long as its newest binding. A new session of
 * the address is announced on the changes channel, in the same step, when one is given (a
 * renewal is not: cached entries are dropped at their expiry anyway). Returns 2 for a new
 * session, 1 for a renewal.
 * KEYS: bindings hash, owner key. ARGV: session, entry, owner, ttl ms, retain ms, owned (1|0),
 * changes channel or '', address.
 */
const REGISTER = `
if ARGV[6] == '1' then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[3] then return 0 end
  redis.call('SET', KEYS[2], ARGV[3], 'PX', tonumber(ARGV[4]) + tonumber(ARGV[5]))
end
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if added == 1 and ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1 + added`;

/**
 * Removes a session's binding and announces it on the changes channel when one is
 * given; when it was the last of an address its owner does not own by name (a hyperty), the
 * owner stays recorded for the retention time. Returns 1 when there was one to remove.
 * KEYS: bindings hash, owner key. ARGV: session, address, retain ms, changes channel or ''.
 */
const UNREGISTER = `
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[2]) end
local owner = string.match(entry, '^%S+ %S+ %S+ (.+)$')
if owner ~= ARGV[2] and redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`;

/** Addresses whose bindings one node keeps in its lookup cache. */
const CACHED_ADDRESSES = 100_000;

/**
 * Sharded channels the changes are spread over on a Redis Cluster, `<prefix>loc-changed:{<n>}`
 * (each its own slot, so the shards share them): enough to spread the announcements over the
 * shards of a cluster, few enough that a node subscribes to them all.
 */
const CHANGE_CHANNELS = 64;

/**
 * The {@link Location} service in Redis, shared by the node processes of a domain. An address's
 * bindings are one hash, `<prefix>{<address>}:loc`, field = session id, value =
 * `<since> <expires> <node> <owner>`; the owner of a hyperty address is `<prefix>{<address>}:own`.
 * The address is the keys' hash tag, so the scripts, which touch both, touch one slot of a
 * Redis Cluster: the prefix holds no brace (keyPrefix), the address starts with its scheme (a
 * tag never empty), and the two names agree up to their first `}` whatever the address holds.
 * Lookups filter out expired entries: a dead node's sessions stop counting a few heartbeats later.
 *
 * Lookups are cached per node, so routing a message costs no Redis round trip once its
 * recipient was looked up. A session added to an address or removed from it is announced,
 * and every node drops the address from its cache when it hears that; an entry is also
 * dropped once one of its bindings is past its expiry (renewals are not announced). On one
 * Redis the scripts announce on `<prefix>loc-changed` in the same step. On a Redis Cluster a
 * plain PUBLISH is carried to every server of the cluster, so the announcement is a sharded
 * one (SPUBLISH, which only the channel's shard carries), on one of {@link CHANGE_CHANNELS}
 * channels by the address, sent once the script is done (a script may publish only in its
 * own slot): a lookup answered between the change and its announcement is not cached (it
 * was asked before the announcement came, see #asked). While this node's subscription is
 * down (on a cluster: any shard's), it may miss announcements: it looks every address up in
 * Redis until the subscription is back, then starts its cache afresh. Between a change and its announcement reaching a node, that
 * node may route by the bindings before it, as it would with a lookup made just before the
 * change: a session that left is not written to (its node finds no such session and the
 * sender holds the message, announcing it), and one that arrived takes what was held for it.
 */
export class RedisLocation implements Location {
  readonly scope = 'shared';
  readonly #redis: RedisLink;
  readonly #sub: RedisLink;
  readonly #prefix: string;
  readonly #retainMs: number;
  readonly #register: Script<number>;
  readonly #unregister: Script<number>;
  /** Bindings looked up, by address (insertion order: the oldest is dropped first at the bound). */
  readonly #cache = new Map<string, readonly Binding[]>();
  /** Lookups on their way, by address: a result is cached only if no change was heard meanwhile. */
  readonly #asked = new Map<string, object>();
  /** Whether this node hears every change (its subscription is up): the cache is used only then. */
  #listening = false;
  /** On a Redis Cluster: the sharded channels changes are announced on; else none (the scripts announce). */
  readonly #sharded: readonly string[];

  /** @param redis - for commands; `sub` - for hearing changes only */
  constructor(redis: RedisLink, sub: RedisLink, prefix: string, retainMs: number) {
    this.#redis = redis;
    this.#sub = sub;
    this.#prefix = prefix;
    this.#retainMs = retainMs;
    this.#register = defineScript(redis, 'pfLocationRegister', 2, REGISTER);
    this.#unregister = defineScript(redis, 'pfLocationUnregister', 2, UNREGISTER);
    this.#sharded =
      sub instanceof Cluster
        ? Array.from({ length: CHANGE_CHANNELS }, (_, i) => `${prefix}loc-changed:{${i}}`)
        : [];
    const heard = (_channel: string, address: string) => this.#changed(address);
    sub.on('message', heard);
    sub.on('smessage', heard);
    // Announcements made while the link was down are lost: whatever was cached may be stale.
    onSubscriptionsLost(sub, () => {
      this.#listening = false;
      this.#cache.clear();
      this.#asked.clear();
    });
    onSubscriptionsBack(
      sub,
      () => this.#listen(),
      () => {
        // One Redis: #listen subscribed again. A cluster's client did (see onSubscriptionsBack).
        this.#listening = true;
      },
    );
  }

  /** Subscribes to the changes channels; the cache is used once subscribed. */
  async listen(): Promise<void> {
    // One SSUBSCRIBE per channel: the channels of one command must share a slot.
    await (this.#sharded.length
      ? Promise.all(this.#sharded.map((c) => this.#sub.ssubscribe(c)))
      : this.#sub.subscribe(this.#changes));
    this.#listening = true;
  }

  async register(binding: Binding): Promise<boolean> {
    const entry = `${binding.since} ${binding.expires} ${binding.node} ${binding.owner}`;
    const ttl = Math.max(1, binding.expires - Date.now());
    const owned = binding.address === binding.owner ? '0' : '1';
    const [hash, owner] = this.#keys(binding.address);
    const done = await this.#register(
      hash,
      owner,
      binding.session,
      entry,
      binding.owner,
      ttl,
      this.#retainMs,
      owned,
      this.#sharded.length ? '' : this.#changes,
      binding.address,
    );
    if (done === 2) await this.#announce(binding.address);
    // This node routes by its own change at once, before the announcement comes back.
    this.#changed(binding.address);
    return done > 0;
  }

  async unregister(address: string, session: string): Promise<void> {
    const [hash, owner] = this.#keys(address);
    const changes = this.#sharded.length ? '' : this.#changes;
    if ((await this.#unregister(hash, owner, session, address, this.#retainMs, changes)) === 1) {
      await this.#announce(address);
    }
    this.#changed(address);
  }

  /** On a Redis Cluster, announces a change of `address` on its sharded channel (on one Redis the script did). */
  async #announce(address: string): Promise<void> {
    if (!this.#sharded.length) return;
    await this.#redis.spublish(this.#sharded[crc32(address) % this.#sharded.length]!, address);
  }

  lookup(address: string): readonly Binding[] | Promise<readonly Binding[]> {
    const cached = this.#cache.get(address);
    if (cached) {
      const now = Date.now();
      if (cached.every((b) => b.expires > now)) return cached;
      this.#cache.delete(address);
    }
    return this.#fetch(address);
  }

  async close(): Promise<void> {
    this.#listening = false;
    await Promise.all([closeRedis(this.#sub), closeRedis(this.#redis)]);
  }

  async #fetch(address: string): Promise<readonly Binding[]> {
    const asked = {};
    if (this.#listening) this.#asked.set(address, asked);
    const entries = await this.#redis.hgetall(this.#keys(address)[0]);
    const now = Date.now();
    const bindings: Binding[] = [];
    for (const [session, entry] of Object.entries(entries)) {
      const [since, expires, node, owner] = entry.split(' ') as [string, string, string, string];
      if (Number(expires) > now)
        bindings.push({ address, owner, node, session, since: Number(since), expires: Number(expires) });
    }
    bindings.sort((a, b) => b.since - a.since);
    if (this.#asked.get(address) === asked) {
      this.#asked.delete(address);
      if (this.#listening) this.#keep(address, bindings);
    }
    return bindings;
  }

  #keep(address: string, bindings: readonly Binding[]): void {
    if (this.#cache.size >= CACHED_ADDRESSES) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(address, bindings);
  }

  /** `address` gained or lost a session: what this node knew of it is stale. */
  #changed(address: string): void {
    this.#cache.delete(address);
    this.#asked.delete(address);
  }

  async #listen(): Promise<void> {
    // The first 'ready' comes before listen() is called; later ones follow a lost link.
    if (this.#listening) return;
    await this.listen();
  }

  get #changes(): string {
    return `${this.#prefix}loc-changed`;
  }

  #keys(address: string): [string, string] {
    return [`${this.#prefix}{${address}}:loc`, `${this.#prefix}{${address}}:own`];
  }
}
