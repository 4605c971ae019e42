import type { Cluster, Location } from '../server/services/service.js';
import { serviceOf } from '../test/support/backends.js';
import { startRedis, startRedisCluster, startReplica } from '../test/support/redis-server.js';
import { alternate, type BenchOptions, inFlight, type Result, result } from './harness.js';

/**
 * What acknowledging a held message only once a replica has it costs (cluster-redis
 * `holdReplicas`: the hold script and `WAIT 1` in one pipeline), against the hold alone
 * (`holdReplicas: 0`), in one run: on one Redis with one replica, and on a Redis Cluster of
 * three masters with a replica each. Holds of 200-byte frames to 64 addresses, one at a time
 * (latency) and 32 in flight (rate). Redis, its replicas and this process share the machine's
 * cores, so the replica's acknowledgement costs a scheduling round trip here that a replica on
 * its own host would not.
 */

const FRAME = JSON.stringify({ t: 'msg', m: { id: 'x', text: 'y'.repeat(160) } });
const LIMITS = { perAddress: 1_000_000, ttlMs: 60_000 };

async function holder(target: Record<string, unknown>, holdReplicas: number) {
  const location: Location = await serviceOf('location', 'location-redis', target);
  const cluster: Cluster = await serviceOf(
    'cluster',
    'cluster-redis',
    { ...target, holdReplicas },
    { location },
  );
  let i = 0;
  return {
    hold: () => cluster.hold(`user://h.example/u${i++ % 64}`, FRAME, LIMITS),
    async close() {
      await cluster.close?.();
      await location.close?.();
    },
  };
}

/** Mean microseconds per hold, `n` one after another. */
async function latency(hold: () => Promise<void>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await hold();
  return ((performance.now() - t0) * 1000) / n;
}

async function compareOn(label: string, target: Record<string, unknown>, rounds: number, n: number) {
  const ours = await holder(target, 1);
  const base = await holder(target, 0);
  const out: Result[] = [];
  const [l1, l0] = await alternate(
    rounds,
    () => latency(ours.hold, n),
    () => latency(base.hold, n),
  );
  out.push(result(`hold with WAIT 1 (${label}), one at a time, against no WAIT`, 'µs/hold', l1, l0));
  const [r1, r0] = await alternate(
    rounds,
    () => inFlight(n, 32, ours.hold),
    () => inFlight(n, 32, base.hold),
  );
  out.push(result(`hold with WAIT 1 (${label}), 32 in flight, against no WAIT`, 'holds/s', r1, r0));
  await ours.close();
  await base.close();
  return out;
}

export default async function holdsBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 300 : 2000;
  const results: Result[] = [];
  const master = await startRedis();
  const replica = await startReplica(master);
  try {
    results.push(...(await compareOn('one Redis and its replica', { url: master.url }, rounds, n)));
  } finally {
    await replica.stop();
    await master.stop();
  }
  const cluster = await startRedisCluster();
  try {
    results.push(...(await compareOn('Redis Cluster', { cluster: cluster.seeds }, rounds, n)));
  } finally {
    await cluster.stop();
  }
  return results;
}
