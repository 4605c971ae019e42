import { Redis } from 'ioredis';
import { expect, it, onTestFinished } from 'vitest';
import { RecordingMember } from '../../../test/support/cluster-member.js';
import { startRedis, startRedisCluster } from '../../../test/support/redis-server.js';
import { connectRedis, type RedisTarget } from '../redis-connection.js';
import { RedisCluster } from './redis-cluster.js';

const made: RedisCluster[] = [];

/**
 * Once the test is over: the nodes it made closed, then `server` stopped. (An `afterAll` called
 * inside a test is never run: each full suite left this file's 14 redis-servers running.)
 */
function stopAfterTest(server: { stop(): Promise<void> }): void {
  onTestFinished(async () => {
    await Promise.all(made.splice(0).map((c) => c.close()));
    await server.stop();
  });
}

/**
 * A node of the cluster; `subscribeAgainMs`: how long its subscription link (to one Redis)
 * waits before each reconnect; `holdReplicas`: replicas a hold must reach.
 */
async function node(target: RedisTarget, name: string, subscribeAgainMs?: number, holdReplicas = 0) {
  const sub = await connectRedis(target, `${name}-sub`, 2000);
  if (subscribeAgainMs) (sub as Redis).options.retryStrategy = () => subscribeAgainMs;
  const cluster = new RedisCluster(await connectRedis(target, `${name}-cmd`, 2000), sub, {
    prefix: 'order:',
    heartbeatMs: 1000,
    deliveryTimeoutMs: 3000,
    holdReplicas,
    holdReplicaTimeoutMs: 500,
  });
  made.push(cluster);
  const member = new RecordingMember();
  await cluster.join(member);
  return { cluster, member };
}

it('delivers, in order, what one node sent another while Redis restarted, once both are back', async () => {
  const redis = await startRedis();
  stopAfterTest(redis);
  // The receiving node's subscription comes back well after the sender's link: what the sender
  // publishes first, nobody hears.
  const [one, two] = [await node(redis, 'one'), await node(redis, 'two', 500)];
  await redis.stop();
  // Sent while Redis is down: they wait for it, and reach the other node only once it subscribed again.
  const frames = Array.from({ length: 50 }, (_, i) => `f${i}`);
  const results = frames.map((f) => one.cluster.deliver(two.cluster.node, 'n2.1', f));
  await redis.start();
  // Sent once Redis is back, while the first ones are not heard yet: they must not overtake them.
  const later = Array.from({ length: 10 }, (_, i) => `g${i}`);
  results.push(...later.map((f) => one.cluster.deliver(two.cluster.node, 'n2.1', f)));
  expect(await Promise.all(results)).toEqual([...frames, ...later].map(() => true));
  expect(two.member.delivered.map((d) => d.frame)).toEqual([...frames, ...later]);
  await expect.poll(() => [one.member.rejoins, two.member.rejoins]).toEqual([1, 1]);
});

it("carries deliveries on a Redis Cluster on sharded channels, each held by its slot's master", async () => {
  const redis = await startRedisCluster();
  stopAfterTest(redis);
  const [one, two] = [
    await node({ cluster: redis.seeds }, 'one'),
    await node({ cluster: redis.seeds }, 'two'),
  ];
  expect(await one.cluster.deliver(two.cluster.node, 'n2.1', 'x')).toBe(true);
  expect(two.member.delivered).toEqual([{ session: 'n2.1', frame: 'x' }]);
  const channels = (command: string) =>
    Promise.all(
      redis.servers.map(async (s) => {
        const r = new Redis(s.port, '127.0.0.1');
        try {
          return ((await r.call('PUBSUB', command, 'order:node:*')) as string[]).sort();
        } finally {
          r.disconnect();
        }
      }),
    );
  // Each node's channel is a shard channel of the master of its slot, and of no other server.
  const shard = await channels('SHARDCHANNELS');
  for (const { cluster } of [one, two]) {
    const channel = `order:node:${cluster.node}`;
    const master = await redis.masterOf(channel);
    expect(redis.servers.filter((_, i) => shard[i]!.includes(channel))).toEqual([master]);
  }
  // No global channel carries deliveries (a global PUBLISH would cross every node of the cluster).
  expect((await channels('CHANNELS')).flat()).toEqual([]);
});

it('counts a hold done once a replica has it too (WAIT), and fails one that reaches no replica', async () => {
  const limits = { perAddress: 10, ttlMs: 60_000 };
  const redis = await startRedisCluster();
  stopAfterTest(redis);
  const { cluster } = await node({ cluster: redis.seeds }, 'waits', undefined, 1);
  const address = 'user://a.example/held';
  await cluster.hold(address, 'kept', limits);
  // Asked of the replica itself, at once: the hold was acknowledged only once it had it.
  const key = `order:held:${address}`;
  const master = await redis.masterOf(key);
  const replicas = await Promise.all(
    redis.servers.map(async (s) => {
      const r = new Redis(s.port, '127.0.0.1');
      try {
        const info = await r.info('replication');
        return info.includes(`master_port:${master.port}\r\n`) ? s : undefined;
      } finally {
        r.disconnect();
      }
    }),
  );
  const own = new Redis(replicas.find(Boolean)!.port, '127.0.0.1');
  try {
    await own.call('READONLY');
    expect(await own.llen(key)).toBe(1);
  } finally {
    own.disconnect();
  }

  // One Redis with no replica: a hold asking for one fails, coded, and the message is not acknowledged.
  const lone = await startRedis();
  stopAfterTest(lone);
  const alone = await node(lone, 'alone', undefined, 1);
  await expect(alone.cluster.hold(address, 'not kept', limits)).rejects.toMatchObject({
    code: 'PF_ERR_UNAVAILABLE',
  });
});
