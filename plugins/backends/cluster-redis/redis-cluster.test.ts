import type { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { RecordingMember } from '../../../test/support/cluster-member.js';
import { startRedis } from '../../../test/support/redis-server.js';
import { connectRedis } from '../redis-connection.js';
import { RedisCluster } from './redis-cluster.js';

const made: RedisCluster[] = [];
afterAll(async () => {
  await Promise.all(made.map((c) => c.close()));
});

/** A node of the cluster; `subscribeAgainMs`: how long its subscription link waits before each reconnect. */
async function node(url: string, name: string, subscribeAgainMs?: number) {
  const sub = (await connectRedis({ url }, `${name}-sub`, 2000)) as Redis;
  if (subscribeAgainMs) sub.options.retryStrategy = () => subscribeAgainMs;
  const cluster = new RedisCluster(await connectRedis({ url }, `${name}-cmd`, 2000), sub, {
    prefix: 'order:',
    heartbeatMs: 1000,
    deliveryTimeoutMs: 3000,
  });
  made.push(cluster);
  const member = new RecordingMember();
  await cluster.join(member);
  return { cluster, member };
}

it('delivers, in order, what one node sent another while Redis restarted, once both are back', async () => {
  const redis = await startRedis();
  afterAll(() => redis.stop());
  // The receiving node's subscription comes back well after the sender's link: what the sender
  // publishes first, nobody hears.
  const [one, two] = [await node(redis.url, 'one'), await node(redis.url, 'two', 500)];
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
