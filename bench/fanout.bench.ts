import type { BenchOptions, Result } from './harness.js';
import { nodeAgainstHub } from './load.js';

/**
 * A group conversation: every client subscribes to one group and one member sends updates to
 * it; each update is due at every other member. Delivery latency p50/p99 and losses, against
 * the plain `ws` hub broadcasting the same frames.
 */
export default async function fanoutBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const n = quick ? 200 : 1000;
  const rate = quick ? 10 : 20;
  const [ours, base] = await nodeAgainstHub({
    clients: n,
    rate,
    seconds: quick ? 3 : 10,
    mode: 'fanout',
    root,
  });
  const one = (name: string, value: number, baseline: number): Result => ({
    name,
    unit: 'ms',
    median: value,
    p99: value,
    baseline,
    ratio: value / baseline,
  });
  return [
    one(`fan-out: ${n} subscribers, ${rate} updates/s, delivery latency p50`, ours.p50, base.p50),
    one(`fan-out: ${n} subscribers, ${rate} updates/s, delivery latency p99`, ours.p99, base.p99),
    {
      name: `fan-out: deliveries lost of ${ours.sent} due`,
      unit: 'messages',
      median: ours.sent - ours.received,
      p99: ours.sent - ours.received,
    },
  ];
}
