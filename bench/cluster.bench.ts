import { pino } from 'pino';
import { type MessagingNode, startMessagingNode } from '../server/messaging-node/messaging-node.js';
import type { Cluster, Location } from '../server/services/service.js';
import { serviceOf } from '../test/support/backends.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { startRedis } from '../test/support/redis-server.js';
import type { BenchOptions, Result } from './harness.js';
import { barePair, compare, fanOut, type Path } from './round-trips.js';

/**
 * Cross-node messaging against single-node messaging, in one run: chat round trips
 * Alice → Bob → Alice with bare json-ws clients.
 *
 * - the baseline: one messaging node on its default services (Location and Cluster in memory),
 *   Alice and Bob both on it;
 * - ours: two messaging nodes of one domain on location-redis and cluster-redis (loaded
 *   verified, against a redis-server started here), Alice on one and Bob on the other, so
 *   every message is looked up in Redis and crosses to the other node over pub/sub, and is
 *   acknowledged once that node confirmed it.
 *
 * Both nodes and the clients share this process (and its core); redis-server has its own.
 * One pair measures a conversation; 16 pairs, the same 64 messages in flight spread over
 * them, measure a node with many (a node orders each session's messages, so one session's
 * rate is bounded by its round trip through Redis).
 */

const PAIRS = 16;

async function node(
  identity: Awaited<ReturnType<typeof testIdentity>>,
  services: { location?: Location; cluster?: Cluster } = {},
) {
  return startMessagingNode({
    domain: 'b.example',
    identity,
    messagesPerSecond: 1e9,
    log: pino({ level: 'silent' }),
    ...services,
  });
}

/** `pairs` Alice/Bob pairs: each Alice on `aliceNode`, each Bob on `bobNode`. */
async function pairsOf(
  pairs: number,
  aliceNode: MessagingNode,
  bobNode: MessagingNode,
  identity: Awaited<ReturnType<typeof testIdentity>>,
  close: () => Promise<void>,
): Promise<Path> {
  const paths: Path[] = [];
  for (let i = 0; i < pairs; i++) {
    paths.push(
      await barePair(
        { alice: aliceNode.url, bob: bobNode.url },
        async (address) => ({ t: 'auth', token: await identity.issue(address) }),
        async () => {},
        `user://b.example/alice${i}`,
        `user://b.example/bob${i}`,
      ),
    );
  }
  return fanOut(paths, close);
}

export default async function clusterBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 300 : 1500;
  const redis = await startRedis();
  const identity = await testIdentity('b.example');
  const single = await node(identity);
  const cluster = async () => {
    const location = await serviceOf('location', 'location-redis', { url: redis.url });
    const cluster = await serviceOf('cluster', 'cluster-redis', { url: redis.url }, { location });
    return { location, cluster };
  };
  const one = await cluster();
  const two = await cluster();
  const [n1, n2] = [await node(identity, one), await node(identity, two)];

  const results: Result[] = [];
  for (const pairs of [1, PAIRS]) {
    const name = `cross-node (2 nodes on Redis), ${pairs} pair${pairs > 1 ? 's' : ''}, against one node`;
    const base = await pairsOf(pairs, single, single, identity, async () => {});
    const ours = await pairsOf(pairs, n1, n2, identity, async () => {});
    results.push(...(await compare(name, ours, base, rounds, n)));
    await ours.close();
    await base.close();
  }
  await Promise.all([single.close(), n1.close(), n2.close()]);
  for (const s of [one, two]) {
    await s.cluster.close?.();
    await s.location.close?.();
  }
  await redis.stop();
  return results;
}
