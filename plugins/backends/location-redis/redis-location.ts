import type { Binding, Location } from '../../../server/services/service.js';
import { closeRedis, defineScript, type RedisLink, type Script } from '../redis-connection.js';

/**
 * Registers a session: refused (0) when another owner holds the address, else the owner is
 * recorded for the registration's life plus the retention time, and the session's entry is
 * set in the address's hash, which lives as long as its newest registration.
 * KEYS: registrations hash, owner key. ARGV: session, entry, owner, ttl ms, retain ms, owned (1|0).
 */
const REGISTER = `
if ARGV[6] == '1' then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[3] then return 0 end
  redis.call('SET', KEYS[2], ARGV[3], 'PX', tonumber(ARGV[4]) + tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/**
 * Removes a session's registration; when it was the last of an address its owner does not
 * own by name (a hyperty), the owner stays recorded for the retention time.
 * KEYS: registrations hash, owner key. ARGV: session, address, retain ms.
 */
const UNREGISTER = `
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local owner = string.match(entry, '^%S+ %S+ %S+ (.+)$')
if owner ~= ARGV[2] and redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`;

/**
 * The {@link Location} service in Redis, shared by the node processes of a domain. An address's
 * registrations are one hash, `<prefix>{<address>}:loc`, field = session id, value =
 * `<since> <expires> <node> <owner>`; the owner of a hyperty address is `<prefix>{<address>}:own`.
 * The address is the keys' hash tag, so the scripts, which touch both, touch one slot of a
 * Redis Cluster: the prefix holds no brace (keyPrefix), the address starts with its scheme (a
 * tag never empty), and the two names agree up to their first `}` whatever the address holds.
 * Lookups filter out expired entries: a dead node's sessions stop counting a few heartbeats later.
 */
export class RedisLocation implements Location {
  readonly scope = 'shared';
  readonly #redis: RedisLink;
  readonly #prefix: string;
  readonly #retainMs: number;
  readonly #register: Script<number>;
  readonly #unregister: Script<number>;

  constructor(redis: RedisLink, prefix: string, retainMs: number) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#retainMs = retainMs;
    this.#register = defineScript(redis, 'pfLocationRegister', 2, REGISTER);
    this.#unregister = defineScript(redis, 'pfLocationUnregister', 2, UNREGISTER);
  }

  async register(reg: Binding): Promise<boolean> {
    const entry = `${reg.since} ${reg.expires} ${reg.node} ${reg.owner}`;
    const ttl = Math.max(1, reg.expires - Date.now());
    const owned = reg.address === reg.owner ? '0' : '1';
    const [hash, owner] = this.#keys(reg.address);
    return (
      (await this.#register(hash, owner, reg.session, entry, reg.owner, ttl, this.#retainMs, owned)) === 1
    );
  }

  async unregister(address: string, session: string): Promise<void> {
    const [hash, owner] = this.#keys(address);
    await this.#unregister(hash, owner, session, address, this.#retainMs);
  }

  async lookup(address: string): Promise<readonly Binding[]> {
    const entries = await this.#redis.hgetall(this.#keys(address)[0]);
    const now = Date.now();
    const regs: Binding[] = [];
    for (const [session, entry] of Object.entries(entries)) {
      const [since, expires, node, owner] = entry.split(' ') as [string, string, string, string];
      if (Number(expires) > now)
        regs.push({ address, owner, node, session, since: Number(since), expires: Number(expires) });
    }
    return regs.sort((a, b) => b.since - a.since);
  }

  async close(): Promise<void> {
    await closeRedis(this.#redis);
  }

  #keys(address: string): [string, string] {
    return [`${this.#prefix}{${address}}:loc`, `${this.#prefix}{${address}}:own`];
  }
}
