import { type BenchOptions, type Result, single } from './harness.js';
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
  return [
    single(`fan-out: ${n} subscribers, ${rate} updates/s, delivery latency p50`, 'ms', ours.p50, base.p50),
    single(`fan-out: ${n} subscribers, ${rate} updates/s, delivery latency p99`, 'ms', ours.p99, base.p99),
    single(`fan-out: deliveries lost of ${ours.sent} due`, 'messages', ours.sent - ours.received),
  ];
}
