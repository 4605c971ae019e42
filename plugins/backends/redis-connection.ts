import { Cluster, Redis } from 'ioredis';
import { ProtoflyError } from '../../core/errors.js';

/** A Lua script run by its SHA (ioredis loads it again after a Redis restart). */
export type Script<R> = (...args: (string | Buffer | number)[]) => Promise<R>;

/** Where a clustered domain's shared state lives: one Redis server, or a Redis Cluster by some of its nodes. */
export type RedisTarget = { readonly url: string } | { readonly cluster: readonly string[] };

/** A connection to one Redis or to a Redis Cluster; the backends use both through the same commands. */
export type RedisLink = Redis | Cluster;

/**
 * Milliseconds between a cluster command's attempts while its slot has no master (a master
 * failed and its replica is not promoted yet), and how many attempts it gets: about 20 s, far
 * over a failover (a few node timeouts), after which it fails and the message is refused.
 */
const CLUSTER_DOWN_RETRY_MS = 100;
const CLUSTER_ATTEMPTS = 200;

/**
 * Connects to the Redis the backends of a clustered domain share: `{ url }` one server,
 * `{ cluster }` a Redis Cluster found from those seed nodes (ioredis's Cluster client, sharded
 * pub/sub subscribed on each shard's master). It reconnects by itself, forever, and commands
 * issued while it is away wait for it rather than fail (`maxRetriesPerRequest: null`): a Redis
 * restart delays messages, it does not refuse them. On a cluster, a command whose slot lost its
 * master waits for the replica's promotion, up to about 20 s, then fails (the node refuses the
 * message it was for with PF_ERR_UNAVAILABLE, which its sender sends again: fail closed).
 * Commands issued in one tick go in one write (auto-pipelining), but for SPUBLISH, sent at
 * once; with auto-pipelining, ioredis fails some commands with MOVED for a while after a
 * failover instead of following the redirect (ioredis#2075, open), refused and sent again the
 * same way.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when Redis does not answer within `connectTimeoutMs`
 *   at start: a wrong URL fails the start instead of waiting forever.
 */
export async function connectRedis(
  target: RedisTarget,
  name: string,
  connectTimeoutMs: number,
): Promise<RedisLink> {
  const options = {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    // A publish leaves at once. The cluster backend already sends one per destination node per
    // tick; auto-pipelined, it would wait behind the pipeline in flight (ioredis runs one at a
    // time per connection: a Redis round trip) and cost a pipeline of its own. Measured on a
    // delivery and its confirmation between two nodes: about half the CPU and the latency.
    autoPipeliningIgnoredCommands: ['spublish'],
  };
  const redis = !('cluster' in target)
    ? new Redis(target.url, { ...options, enableAutoPipelining: true, autoResubscribe: false })
    : new Cluster(target.cluster.map(seedNode), {
        redisOptions: options,
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: options.autoPipeliningIgnoredCommands,
        shardedSubscribers: true,
        clusterRetryStrategy: options.retryStrategy,
        retryDelayOnClusterDown: CLUSTER_DOWN_RETRY_MS,
        retryDelayOnFailover: CLUSTER_DOWN_RETRY_MS,
        retryDelayOnTryAgain: CLUSTER_DOWN_RETRY_MS,
        maxRedirections: CLUSTER_ATTEMPTS,
      });
  const where = 'cluster' in target ? `the Redis Cluster at ${target.cluster.join(', ')}` : target.url;
  // Connection errors come again as reconnects; commands report their own.
  redis.on('error', () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `cannot reach Redis at ${where}: ${(err as Error).message}`,
      'cluster' in target ? { cluster: target.cluster } : { url: target.url },
    );
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/**
 * The prefix of a domain's keys and channels: `configured`, or `pf:<domain>:`. Keys are
 * hash-tagged by the part after it (an address), so a brace in it would move the tag (and an
 * empty `{}` spread the keys of one script over several slots of a Redis Cluster).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` naming a prefix that holds `{` or `}`.
 */
export function keyPrefix(configured: string | undefined, domain: string): string {
  if (configured !== undefined && /[{}]/.test(configured)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `prefix: '${configured}' holds a brace, which would move the hash tag of every key; use one without`,
      { prefix: configured },
    );
  }
  return configured ?? `pf:${domain}:`;
}

/**
 * A seed node of a Redis Cluster from its redis:// URL (the cluster tells the others).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` naming a seed that is not a redis:// URL.
 */
function seedNode(url: string): { host: string; port: number } {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== 'redis:' || !parsed.hostname) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `cluster: a seed node must be a redis://host:port URL, not '${url}'`,
      {
        url,
      },
    );
  }
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

/**
 * Calls `back` each time the subscriptions of `sub` are in place again after its link was
 * lost. One Redis may have restarted empty: `resubscribe` runs first (the link does not
 * resubscribe by itself). A cluster's client subscribes again on the shards' masters itself
 * once it learnt the new ones after a failover.
 */
export function onSubscriptionsBack(
  sub: RedisLink,
  resubscribe: () => Promise<unknown>,
  back: () => void,
): void {
  if (sub instanceof Cluster) {
    let lost = false;
    sub.on('-subscriber', () => {
      lost = true;
    });
    sub.on('subscribersReady', () => {
      if (!lost) return;
      lost = false;
      back();
    });
    return;
  }
  sub.on('ready', () => void resubscribe().then(back, () => {}));
}

/**
 * Calls `lost` each time a subscription of `sub` may have missed messages: one Redis, its link
 * closed; a cluster, the subscriber of one of its shards went away.
 */
export function onSubscriptionsLost(sub: RedisLink, lost: () => void): void {
  sub.on(sub instanceof Cluster ? '-subscriber' : 'close', lost);
}

/** Calls `changed` each time `link` came back to Redis or, on a cluster, a node joined or left it. */
export function onLinkChange(link: RedisLink, changed: () => void): void {
  if (link instanceof Cluster) {
    link.on('+node', changed);
    link.on('-node', changed);
  } else link.on('ready', changed);
}

/** The masters of `link`: the server itself, or each master of the cluster. */
function masters(link: RedisLink): Redis[] {
  return link instanceof Cluster ? link.nodes('master') : [link];
}

/**
 * How many subscribers each sharded channel has. On a cluster each master answers for the
 * channels of its slots (the others count 0), so the counts are summed over them.
 */
export async function shardSubscribers(link: RedisLink, channels: readonly string[]): Promise<number[]> {
  const replies = await Promise.all(
    masters(link).map((m) => m.call('PUBSUB', 'SHARDNUMSUB', ...channels) as Promise<(string | number)[]>),
  );
  return channels.map((_, i) => replies.reduce((sum, r) => sum + Number(r[2 * i + 1]), 0));
}

/** Every key matching `pattern`, in batches, from each master. */
export async function* scanKeys(link: RedisLink, pattern: string): AsyncGenerator<string[]> {
  for (const m of masters(link))
    yield* m.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>;
}

/** Defines a Lua script on `redis` and returns the function that runs it; `buffers` for binary replies. */
export function defineScript<R>(
  redis: RedisLink,
  name: string,
  keys: number,
  lua: string,
  buffers = false,
): Script<R> {
  redis.defineCommand(name, { numberOfKeys: keys, lua });
  const method = buffers ? `${name}Buffer` : name;
  return (...args) => (redis as unknown as Record<string, Script<R>>)[method]!(...args);
}

/** Closes a connection: politely when Redis is there (what was sent is answered first), at once when it is not. */
export async function closeRedis(redis: RedisLink): Promise<void> {
  if (redis.status !== 'ready') return redis.disconnect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    redis.quit().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => resolve(redis.disconnect()), 1000);
    }),
  ]);
  clearTimeout(timer);
}
