// Over 400 lines, for one thing: the Cluster service over Redis. Deliveries, their
// confirmations, holds and presence share the batches in flight and the pending table; groups
// are apart (redis-groups.ts), the batches' encoding too (wire.ts).
import { randomBytes } from 'node:crypto';
import { ProtoflyError } from '../../../core/errors.js';
import type { Cluster, ClusterMember, Frame, HoldLimits } from '../../../server/services/service.js';
import {
  closeRedis,
  defineScript,
  onLinkChange,
  onSubscriptionsBack,
  type RedisLink,
  type Script,
  scanKeys,
  shardSubscribers,
} from '../redis-connection.js';
import { RedisGroups } from './redis-groups.js';
import { type Delivery, decodeBatch, encodeBatch } from './wire.js';

/**
 * Holds a frame for an address: drops the expired head of its list, refuses (0) at the bound,
 * appends `<expires ms> <frame>`, and announces the address on the held channel, in one step
 * so a node that hears the notice finds the frame. It touches one key (one slot on a Redis
 * Cluster); the notice is a global PUBLISH, which a cluster carries to every node.
 * KEYS: the list. ARGV: entry, per-address bound, ttl ms, now ms, channel, address.
 */
const HOLD = `
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head or tonumber(string.match(head, '^(%d+) ')) > tonumber(ARGV[4]) then break end
  redis.call('LPOP', KEYS[1])
end
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`;

/**
 * Shares the domain's policy rules: kept for nodes that start later and published to every
 * node, in one step, so the order nodes hear them in is the order they were kept in.
 * KEYS: the rules key. ARGV: rules, channel.
 */
const SHARE_POLICY = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1`;

/** The name HOLD is defined under (the pipeline of a replicated hold calls it by name). */
const HOLD_SCRIPT = 'pfClusterHold';

/** Takes out everything held for an address. KEYS: the list. */
const RELEASE = `
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return all`;

/**
 * Milliseconds after which an unconfirmed delivery makes this node ask Redis whether its
 * destination still listens: a node that died is noticed in this time, not the full timeout.
 */
const PROBE_MS = 200;

/** Milliseconds between publishing again a batch nobody heard while the other node may be resubscribing. */
const REPUBLISH_MS = 50;

/**
 * Milliseconds confirmations wait for a batch of deliveries to the same node to ride with
 * before they go alone: in a conversation the answer goes back within that time, and carries
 * them (one publish a way instead of two). The sender's acknowledgement waits as long; the
 * node batches those for as long again (ackDelayMs).
 */
const CONFIRM_DELAY_MS = 2;

export interface RedisClusterOptions {
  /** Prefix of every key and channel. */
  readonly prefix: string;
  /** Milliseconds between presence renewals; a node is gone three beats after its last. */
  readonly heartbeatMs: number;
  /** Milliseconds a published delivery waits for its confirmation before it counts as not delivered. */
  readonly deliveryTimeoutMs: number;
  /**
   * Replicas a hold must reach (`WAIT`) before it counts as done, and so before the message
   * is acknowledged; 0: a hold is done once its master has it.
   */
  readonly holdReplicas: number;
  /** Milliseconds a hold waits for those replicas before it fails. */
  readonly holdReplicaTimeoutMs: number;
}

interface Pending {
  readonly resolve: (delivered: boolean) => void;
  readonly node: string;
  /** When the SPUBLISH carrying it was answered; 0 before (a Redis outage does not time it out). */
  sentAt: number;
}

/**
 * The {@link Cluster} service over Redis, for the messaging node processes of one domain.
 *
 * - Delivery: frames for another node are published on that node's sharded channel,
 *   `<prefix>node:<id>` (SPUBLISH: on a Redis Cluster only the shard owning the channel's slot
 *   carries it, not every node of the cluster), at once, or batched behind the one in flight
 *   to it; it writes each to its session and confirms each frame once it is safe there (its
 *   client said it took it, or it was held again: ClusterMember.deliver), batched, or in the
 *   next batch it sends back. A frame counts as delivered only then: when no node listens
 *   (SPUBLISH reached nobody: it died), the session is gone, the other node dies before
 *   confirming (its channel found without a listener), or no confirmation comes in time, the
 *   sender holds it instead, so a message acknowledged to its sender is with a client or held,
 *   never only in the memory or socket of a node that can die. A frame may then reach a session
 *   twice (taken, and its confirmation lost with a dying node); the json-ws stub drops repeats.
 * - Held frames: a Redis list per address, bounded and expiring; holding announces the address
 *   on `<prefix>held`, and the node with a session of it takes them (a user who reconnected to
 *   another node after theirs died gets what was held meanwhile).
 * - Groups: membership in Redis, a message published once to each node with members
 *   (redis-groups.ts); the members of a node whose presence lapsed are dropped.
 * - Presence: a sorted set of node ids scored by when they stop counting.
 * - Policy rules: the last shared kept in `<prefix>policy-rules`, and published on
 *   `<prefix>policy` to every node.
 * - Order: a node has one batch at a time in flight to another node (what queues meanwhile
 *   goes in the next), so a batch nobody heard is never overtaken by a later one heard; once
 *   one is given up as not delivered, so is what queued behind it. The sender holds them, and
 *   its later frames to the same address ask the session to take what is held first
 *   (`heldFirst`), so the held ones are not overtaken either.
 * - Redis restarting: commands wait for it; once this node's subscription is back it rejoins
 *   (its member registers its sessions again and takes what was held for them). For as long
 *   as presence takes to forget a node (three beats) after this node's own link came back,
 *   "nobody heard" may mean the other node is still resubscribing, not gone: the batch is
 *   published again until it is heard or deliveryTimeoutMs passed. Held at once instead, it
 *   would reach the session after later frames heard directly.
 * - Redis Cluster failover: commands for a slot whose master died wait for its replica's
 *   promotion (see connectRedis); the nodes' cluster clients learn the new master, subscribe
 *   there again and this node rejoins (registering its sessions again: a write the dead master
 *   had not passed to its replica is lost with it). Meanwhile "nobody heard" is treated as
 *   above, the cluster's nodes having changed counting as the link coming back; and so is it
 *   for as long as the other node was heard from (a batch of its own) within three beats: its
 *   channel's master may have failed over without this node's link seeing a change (the dead
 *   master was another's), and the other node subscribes again only once its own client
 *   learnt the new master.
 */
export class RedisCluster implements Cluster {
  readonly node: string;
  readonly groups: RedisGroups;
  readonly #cmd: RedisLink;
  readonly #sub: RedisLink;
  readonly #options: RedisClusterOptions;
  readonly #hold: Script<number>;
  readonly #release: Script<Buffer[]>;
  readonly #sharePolicy: Script<number>;
  readonly #holds: RedisLink;
  readonly #pending = new Map<number, Pending>();
  readonly #deliveries = new Map<string, Delivery[]>();
  readonly #confirmations = new Map<string, [number, boolean][]>();
  /** Nodes with a batch of deliveries in flight (published and not answered, or to be published again). */
  readonly #inFlight = new Set<string>();
  /** performance.now() when a batch (deliveries or confirmations) last came from each node. */
  readonly #heardAt = new Map<string, number>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #confirmTimer: ReturnType<typeof setTimeout> | undefined;
  #member: ClusterMember | undefined;
  #subscribed = false;
  #flushing = false;
  #probing = false;
  #seq = 0;
  /** performance.now() when the command link last became ready, or the cluster's nodes changed. */
  #linkBackAt = 0;
  #closed = false;

  /**
   * @param cmd - for commands and publishing; `sub` - for this node's subscriptions only;
   *   `holds` - for holds that wait for replicas (WAIT blocks the link it is sent on until the
   *   replicas answer, up to holdReplicaTimeoutMs: on its own link it delays no delivery)
   */
  constructor(cmd: RedisLink, sub: RedisLink, options: RedisClusterOptions, holds: RedisLink = cmd) {
    this.node = `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#cmd = cmd;
    this.#sub = sub;
    this.#options = options;
    this.#hold = defineScript(cmd, HOLD_SCRIPT, 1, HOLD);
    this.#holds = holds;
    if (holds !== cmd) defineScript(holds, HOLD_SCRIPT, 1, HOLD);
    this.#release = defineScript(cmd, 'pfClusterRelease', 1, RELEASE, true);
    this.#sharePolicy = defineScript(cmd, 'pfClusterSharePolicy', 1, SHARE_POLICY);
    this.groups = new RedisGroups(cmd, options.prefix, this.node, this.#channel(''), async (node) => {
      const until = await cmd.zscore(this.#nodesKey, node);
      return until !== null && Number(until) > Date.now();
    });
    onLinkChange(cmd, () => {
      this.#linkBackAt = performance.now();
    });
    const onMessage = (channel: Buffer, data: Buffer) => this.#onMessage(channel.toString(), data);
    sub.on('messageBuffer', onMessage);
    sub.on('smessageBuffer', onMessage);
    onSubscriptionsBack(
      sub,
      async () => {
        if (this.#subscribed) await this.#subscribe();
      },
      () => void this.#rejoin(),
    );
  }

  async join(member: ClusterMember): Promise<void> {
    this.#member = member;
    if (this.#subscribed) return;
    await this.#subscribe();
    this.#subscribed = true;
    await this.#beat();
    const { heartbeatMs, deliveryTimeoutMs } = this.#options;
    this.#timers.push(
      setInterval(() => void this.#beat(), heartbeatMs),
      setInterval(() => this.#expire(), Math.min(PROBE_MS / 2, deliveryTimeoutMs / 4)),
    );
    for (const t of this.#timers) t.unref();
  }

  deliver(node: string, session: string, frame: Frame, heldFirst?: string): Promise<boolean> {
    return new Promise((resolve) => {
      const seq = ++this.#seq;
      this.#pending.set(seq, { resolve, node, sentAt: 0 });
      const delivery = { seq, session, frame, heldFirst };
      const batch = this.#deliveries.get(node);
      if (batch) batch.push(delivery);
      else this.#deliveries.set(node, [delivery]);
      this.#scheduleFlush();
    });
  }

  async hold(address: string, frame: Frame, limits: HoldLimits): Promise<void> {
    const now = Date.now();
    const entry = Buffer.concat([Buffer.from(`${now + limits.ttlMs} `), Buffer.from(frame)]);
    const args = [
      this.#heldKey(address),
      entry,
      limits.perAddress,
      limits.ttlMs,
      now,
      this.#heldChannel,
      address,
    ] as const;
    const kept =
      this.#options.holdReplicas > 0 ? await this.#holdReplicated(args) : await this.#hold(...args);
    if (kept === 0) {
      throw new ProtoflyError(
        'PF_ERR_QUEUE_FULL',
        `${address} is offline with ${limits.perAddress} messages waiting (the most kept per address)`,
        { address, limit: limits.perAddress },
      );
    }
  }

  /**
   * The hold script, then `WAIT` for the replicas on the same connection to the same master
   * (one pipeline, routed by the held key's slot): asynchronous replication would otherwise
   * lose a hold acknowledged just before its master died. WAIT "blocks the current client
   * until all the previous write commands are successfully transferred and acknowledged by
   * at least the specified number of replicas" (redis.io, WAIT).
   *
   * @throws ProtoflyError `PF_ERR_UNAVAILABLE` when fewer replicas than holdReplicas have it in
   * time (its master lost one, or is failing over): not acknowledged, to be sent again.
   */
  async #holdReplicated(args: readonly (string | Buffer | number)[]): Promise<number> {
    const { holdReplicas, holdReplicaTimeoutMs } = this.#options;
    const pipeline = this.#holds.pipeline() as ReturnType<RedisLink['pipeline']> &
      Record<string, Script<unknown>>;
    pipeline[HOLD_SCRIPT]!(...args);
    const replies = await pipeline.wait(holdReplicas, holdReplicaTimeoutMs).exec();
    const [[holdErr, kept], [waitErr, reached]] = replies as [[Error | null, number], [Error | null, number]];
    if (holdErr) throw holdErr;
    if (waitErr) throw waitErr;
    if (kept === 1 && reached < holdReplicas) {
      throw new ProtoflyError(
        'PF_ERR_UNAVAILABLE',
        `a message held for ${args[6]} reached ${reached} of the ${holdReplicas} Redis replicas it must reach within ${holdReplicaTimeoutMs} ms; it is not acknowledged`,
        { replicas: reached, required: holdReplicas },
      );
    }
    return kept;
  }

  async release(address: string): Promise<readonly Frame[]> {
    const entries = await this.#release(this.#heldKey(address));
    const now = Date.now();
    const frames: Frame[] = [];
    for (const e of entries) {
      const space = e.indexOf(0x20);
      if (Number(e.toString('latin1', 0, space)) > now) frames.push(e.subarray(space + 1));
    }
    return frames;
  }

  async held(): Promise<number> {
    let count = 0;
    for await (const keys of scanKeys(this.#cmd, `${this.#options.prefix}held:*`)) {
      const lengths = await Promise.all(keys.map((k) => this.#cmd.llen(k)));
      count += lengths.reduce((a, b) => a + b, 0);
    }
    return count;
  }

  async nodes(): Promise<readonly string[]> {
    return this.#cmd.zrangebyscore(this.#nodesKey, Date.now(), '+inf');
  }

  async sharePolicy(rules: string): Promise<void> {
    await this.#sharePolicy(this.#policyKey, rules, this.#policyChannel);
  }

  async sharedPolicy(): Promise<string | undefined> {
    return (await this.#cmd.get(this.#policyKey)) ?? undefined;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#confirmTimer);
    this.#closed = true;
    this.#member = undefined;
    for (const p of this.#pending.values()) p.resolve(false);
    this.#pending.clear();
    if (this.#cmd.status === 'ready') await this.#cmd.zrem(this.#nodesKey, this.node).catch(() => {});
    const links = new Set([this.#sub, this.#cmd, this.#holds]);
    await Promise.all([...links].map(closeRedis));
  }

  #onMessage(channel: string, data: Buffer): void {
    if (channel === this.#heldChannel) return this.#member?.held(data.toString());
    if (channel === this.#policyChannel) return this.#member?.policy(data.toString());
    const batch = decodeBatch(data);
    if (batch?.kind === 'group') {
      for (const session of batch.sessions) this.#member?.deliver(session, batch.frame);
      return;
    }
    if (batch?.kind !== 'batch') return;
    this.#heardAt.set(batch.from, performance.now());
    for (const [seq, delivered] of batch.results) {
      const p = this.#pending.get(seq);
      this.#pending.delete(seq);
      p?.resolve(delivered);
    }
    for (const d of batch.items) {
      const taken = (safe: boolean) => this.#confirm(batch.from, d.seq, safe);
      if (!this.#member?.deliver(d.session, d.frame, taken, d.heldFirst)) taken(false);
    }
  }

  /** Confirms delivery `seq` of `node` (in its next batch of confirmations): its frame is safe here, or not delivered. */
  #confirm(node: string, seq: number, safe: boolean): void {
    if (this.#closed) return;
    const queued = this.#confirmations.get(node);
    if (queued) queued.push([seq, safe]);
    else this.#confirmations.set(node, [[seq, safe]]);
    this.#scheduleFlush();
  }

  /**
   * Publishes what was queued, once the code that queued it is done (a microtask, not the next
   * turn: a lone delivery leaves at once; what one task queued leaves together): per destination
   * node without a batch in flight, its deliveries and the confirmations owed to it in one
   * message; confirmations alone to the others after CONFIRM_DELAY_MS, unless a batch takes them first.
   */
  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      const now = performance.now();
      for (const [node, items] of this.#deliveries) {
        if (this.#inFlight.has(node)) continue;
        this.#deliveries.delete(node);
        this.#inFlight.add(node);
        const results = this.#confirmations.get(node) ?? [];
        this.#confirmations.delete(node);
        this.#publish(node, items, encodeBatch(this.node, results, items), now);
      }
      if (this.#confirmations.size > 0) {
        this.#confirmTimer ??= setTimeout(this.#confirmAlone, CONFIRM_DELAY_MS);
      } else if (this.#confirmTimer) {
        // A batch took them all: a timer left armed would wake the process for nothing.
        clearTimeout(this.#confirmTimer);
        this.#confirmTimer = undefined;
      }
    });
  }

  /** Publishes the confirmations no batch took. */
  readonly #confirmAlone = (): void => {
    this.#confirmTimer = undefined;
    for (const [node, results] of this.#confirmations) {
      // A lost confirmation times out at the sender, which holds the frame: a repeat, not a loss.
      this.#cmd.spublish(this.#channel(node), encodeBatch(this.node, results, [])).catch(() => {});
    }
    this.#confirmations.clear();
  };

  /** Publishes a batch of deliveries first tried at `since`, again while nobody hears it and the other node may be resubscribing. */
  #publish(node: string, items: readonly Delivery[], batch: Buffer, since: number): void {
    const settle = (receivers: number) => {
      if (this.#closed) return;
      const now = performance.now();
      const recently = (at: number | undefined) =>
        at !== undefined && now - at < 3 * this.#options.heartbeatMs;
      if (
        receivers === 0 &&
        (recently(this.#linkBackAt) || recently(this.#heardAt.get(node))) &&
        now - since < this.#options.deliveryTimeoutMs
      ) {
        setTimeout(() => this.#publish(node, items, batch, since), REPUBLISH_MS).unref();
        return;
      }
      this.#inFlight.delete(node);
      this.#published(items, receivers);
      const queued = this.#deliveries.get(node);
      if (queued && receivers === 0) {
        // Nobody heard this batch: what queued behind it would overtake it (held, then given
        // to the session later) should the node hear the next one. Not delivered either.
        this.#deliveries.delete(node);
        this.#published(queued, 0);
      } else if (queued) {
        this.#scheduleFlush();
      }
    };
    this.#cmd.spublish(this.#channel(node), batch).then(
      (n) => settle(Number(n)),
      () => settle(0),
    );
  }

  /** No node listened: nothing was delivered. Else the confirmations' clock starts. */
  #published(items: readonly Delivery[], receivers: number): void {
    const now = performance.now();
    for (const { seq } of items) {
      const p = this.#pending.get(seq);
      if (!p) continue;
      if (receivers > 0) {
        p.sentAt = now;
        continue;
      }
      this.#pending.delete(seq);
      p.resolve(false);
    }
  }

  /**
   * Deliveries published and not confirmed in time count as not delivered, and so do those to
   * a node that no longer listens on its channel (it died with them unprocessed).
   */
  #expire(): void {
    const now = performance.now();
    const overdue = new Set<string>();
    for (const [seq, p] of this.#pending) {
      if (p.sentAt === 0) continue;
      if (now - p.sentAt > this.#options.deliveryTimeoutMs) {
        this.#pending.delete(seq);
        p.resolve(false);
      } else if (now - p.sentAt > PROBE_MS) {
        overdue.add(p.node);
      }
    }
    if (overdue.size === 0 || this.#probing) return;
    this.#probing = true;
    const nodes = [...overdue];
    shardSubscribers(
      this.#cmd,
      nodes.map((n) => this.#channel(n)),
    )
      .then((counts) => {
        const gone = new Set(nodes.filter((_, i) => counts[i] === 0));
        for (const [seq, p] of this.#pending) {
          if (p.sentAt === 0 || !gone.has(p.node)) continue;
          this.#pending.delete(seq);
          p.resolve(false);
        }
      })
      .catch(() => {})
      .finally(() => {
        this.#probing = false;
      });
  }

  async #beat(): Promise<void> {
    const now = Date.now();
    await this.#cmd
      .multi()
      .zadd(this.#nodesKey, now + 3 * this.#options.heartbeatMs, this.node)
      .zremrangebyscore(this.#nodesKey, '-inf', now)
      .exec()
      .catch(() => {});
  }

  /**
   * This node's channel (sharded: it carries deliveries and confirmations), the held notices
   * and the policy rules shared (global: every node hears them).
   */
  async #subscribe(): Promise<void> {
    await Promise.all([
      this.#sub.ssubscribe(this.#channel(this.node)),
      this.#sub.subscribe(this.#heldChannel, this.#policyChannel),
    ]);
  }

  async #rejoin(): Promise<void> {
    if (this.#closed) return;
    await this.#beat();
    this.#member?.rejoined();
  }

  #channel(node: string): string {
    return `${this.#options.prefix}node:${node}`;
  }

  get #heldChannel(): string {
    return `${this.#options.prefix}held`;
  }

  get #policyChannel(): string {
    return `${this.#options.prefix}policy`;
  }

  get #policyKey(): string {
    return `${this.#options.prefix}policy-rules`;
  }

  get #nodesKey(): string {
    return `${this.#options.prefix}nodes`;
  }

  #heldKey(address: string): string {
    return `${this.#options.prefix}held:${address}`;
  }
}
