import type {
  ClusterGroups,
  Frame,
  GroupChange,
  GroupMember,
  GroupRules,
} from '../../../server/services/service.js';
import { defineScript, type RedisLink, type Script } from '../redis-connection.js';

/**
 * Subscribes a session: the first of a group with none creates it, owned by its user.
 * KEYS: members hash, group hash. ARGV: session, `<node> <user>`, user, members only (1|0), max size.
 * Returns {1 joined | 0 refused | -1 full, subscribers}.
 */
const JOIN = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1, redis.call('HLEN', KEYS[1])} end
local owner = redis.call('HGET', KEYS[2], 'owner')
if not owner then
  redis.call('HSET', KEYS[2], 'owner', ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return {1, 1}
end
local size = redis.call('HLEN', KEYS[1])
local word = redis.call('HGET', KEYS[2], 'r:' .. ARGV[3])
if ARGV[3] ~= owner and (word == '0' or (ARGV[4] == '1' and word ~= '1')) then return {0, size} end
if size >= tonumber(ARGV[5]) then return {-1, size} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, size + 1}`;

/** Unsubscribes a session; the group ends with its last. KEYS: members hash, group hash. ARGV: session. */
const LEAVE = `
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * The owner's change of members, all or none; removed users' sessions leave.
 * KEYS: members hash, group hash. ARGV: user, max size, number added, added..., removed...
 * Returns {1} done, {0} not the owner, {2} the owner removed, {3, listed} over the size.
 */
const CHANGE = `
local owner = redis.call('HGET', KEYS[2], 'owner')
if owner ~= ARGV[1] then return {0} end
local first = 4 + tonumber(ARGV[3])
for i = first, #ARGV do if ARGV[i] == owner then return {2} end end
local seen, fresh = {}, 0
for i = 4, #ARGV do
  if not seen[ARGV[i]] then
    seen[ARGV[i]] = true
    if redis.call('HEXISTS', KEYS[2], 'r:' .. ARGV[i]) == 0 then fresh = fresh + 1 end
  end
end
local listed = redis.call('HLEN', KEYS[2]) - 1 + fresh
if listed > tonumber(ARGV[2]) then return {3, listed} end
local out = {}
for i = 4, #ARGV do
  local removed = i >= first
  redis.call('HSET', KEYS[2], 'r:' .. ARGV[i], removed and '0' or '1')
  if removed then out[ARGV[i]] = true end
end
if next(out) then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if out[string.match(all[i + 1], '^%S+ (.+)$')] then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
return {1}`;

/**
 * Who gets a member's message: the other members' sessions by node.
 * KEYS: members hash. ARGV: sending session.
 * Returns {0} when the sender is not subscribed, else {1, node, sessions, node, sessions, ...}
 * (sessions space-separated). The caller publishes: node channels are shard channels, which a
 * script may publish to only in its own slot.
 */
const SEND = `
local all = redis.call('HGETALL', KEYS[1])
local subscribed, by, nodes = false, {}, {}
for i = 1, #all, 2 do
  if all[i] == ARGV[1] then subscribed = true
  else
    local node = string.match(all[i + 1], '^(%S+)')
    if not by[node] then by[node] = {}; nodes[#nodes + 1] = node end
    table.insert(by[node], all[i])
  end
end
if not subscribed then return {0} end
local out = {1}
for _, node in ipairs(nodes) do
  out[#out + 1] = node
  out[#out + 1] = table.concat(by[node], ' ')
end
return out`;

/**
 * Drops the sessions of a node that is gone (it died: its presence lapsed) from a group; the
 * group ends with its last. Only entries still naming that node go.
 * KEYS: members hash, group hash. ARGV: node, sessions...
 */
const PRUNE = `
for i = 2, #ARGV do
  local entry = redis.call('HGET', KEYS[1], ARGV[i])
  if entry and string.match(entry, '^(%S+)') == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * The {@link ClusterGroups} of a domain in Redis: per group a hash of its subscribed sessions,
 * `<prefix>{group:<group>}:m` (session → `<node> <user>`), and one of its owner and roster,
 * `<prefix>{group:<group>}:g` (`owner`, `r:<user>` → 1 added | 0 removed); the two share a
 * hash tag, so each script touches one slot. Each step is one script, so that nodes deciding
 * at once see each other's decisions. A message is published (SPUBLISH, wire.ts `G`) once to
 * each node with members, as its script names them, which writes it to its sessions (RedisCluster): live only, like a group
 * message on one node, never held.
 *
 * Membership lasts as long as its node: a node that died leaves its sessions' entries behind,
 * and the first message to the group that reaches none of that node's listeners once its
 * presence lapsed (RedisCluster: three beats) drops them, so the group stops sending to it and
 * no longer counts them against its size.
 */
export class RedisGroups implements ClusterGroups {
  readonly #prefix: string;
  readonly #node: string;
  /** The prefix of node channels: the channel of node `n` is this followed by `n`. */
  readonly #channels: string;
  readonly #join: Script<[number, number]>;
  readonly #leave: Script<number>;
  readonly #change: Script<number[]>;
  readonly #send: Script<(number | string)[]>;
  readonly #prune: Script<number>;
  readonly #redis: RedisLink;
  readonly #alive: (node: string) => Promise<boolean>;

  /**
   * @param channels - the prefix of node channels
   * @param alive - whether a node's presence has not lapsed
   */
  constructor(
    redis: RedisLink,
    prefix: string,
    node: string,
    channels: string,
    alive: (node: string) => Promise<boolean>,
  ) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#node = node;
    this.#channels = channels;
    this.#alive = alive;
    this.#join = defineScript(redis, 'pfGroupJoin', 2, JOIN);
    this.#leave = defineScript(redis, 'pfGroupLeave', 2, LEAVE);
    this.#change = defineScript(redis, 'pfGroupChange', 2, CHANGE);
    this.#send = defineScript(redis, 'pfGroupSend', 1, SEND);
    this.#prune = defineScript(redis, 'pfGroupPrune', 2, PRUNE);
  }

  async join(group: string, member: GroupMember, rules: GroupRules) {
    const [joined, size] = await this.#join(
      ...this.#keys(group),
      member.session,
      `${member.node} ${member.user}`,
      member.user,
      rules.membersOnly ? '1' : '0',
      rules.maxSize,
    );
    return {
      result: joined === 1 ? ('joined' as const) : joined === 0 ? ('refused' as const) : ('full' as const),
      size,
    };
  }

  async leave(group: string, session: string): Promise<void> {
    await this.#leave(...this.#keys(group), session);
  }

  async change(
    group: string,
    user: string,
    add: readonly string[],
    remove: readonly string[],
    maxSize: number,
  ): Promise<GroupChange> {
    const [code, listed] = await this.#change(
      ...this.#keys(group),
      user,
      maxSize,
      add.length,
      ...add,
      ...remove,
    );
    if (code === 1) return { ok: true };
    if (code === 3) return { ok: false, reason: 'full', listed: listed! };
    return { ok: false, reason: code === 2 ? 'owner-removed' : 'not-owner' };
  }

  async send(group: string, session: string, frame: Frame): Promise<boolean> {
    const frameArg =
      typeof frame === 'string' ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const keys = this.#keys(group);
    const [subscribed, ...targets] = await this.#send(keys[0], session);
    if (subscribed !== 1) return false;
    const body = typeof frameArg === 'string' ? Buffer.from(frameArg) : frameArg;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < targets.length; i += 2) {
      const [node, sessions] = [String(targets[i]), String(targets[i + 1])];
      const head = Buffer.from(`G ${this.#node}\n${sessions}\n`);
      sends.push(
        this.#redis.spublish(`${this.#channels}${node}`, Buffer.concat([head, body])).then(async (heard) => {
          // Nobody listens on its channel: the node died, or is resubscribing (its presence holds).
          if (Number(heard) === 0 && !(await this.#alive(node))) {
            await this.#prune(...keys, node, ...sessions.split(' '));
          }
        }),
      );
    }
    await Promise.all(sends);
    return true;
  }

  #keys(group: string): [string, string] {
    const tag = `${this.#prefix}{group:${group}}`;
    return [`${tag}:m`, `${tag}:g`];
  }
}
