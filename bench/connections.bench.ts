import type { BenchOptions, Result } from './harness.js';
import { nodeAgainstHub } from './load.js';

/**
 * Many concurrent authenticated WebSocket sessions on one messaging node, each sending a chat
 * to a random other session every few seconds: the node's memory per connection (heap after
 * GC) and delivery latency p50/p99 at the aggregate rate, against the plain `ws` hub.
 */
export default async function connectionsBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const n = quick ? 1000 : 10_000;
  const rate = quick ? 400 : 2000;
  const [ours, base] = await nodeAgainstHub({
    clients: n,
    rate,
    seconds: quick ? 5 : 20,
    mode: 'pairs',
    root,
  });
  const one = (name: string, unit: string, value: number, baseline: number): Result => ({
    name,
    unit,
    median: value,
    p99: value,
    baseline,
    ratio: value / baseline,
  });
  return [
    one(
      `connections: ${n} sessions held, memory per connection`,
      'KB',
      ours.bytesPerConnection / 1024,
      base.bytesPerConnection / 1024,
    ),
    one(
      `connections: ${n} sessions, time to connect and authenticate all`,
      'ms',
      ours.connectMs,
      base.connectMs,
    ),
    one(`connections: delivery latency p50 at ${rate} msg/s`, 'ms', ours.p50, base.p50),
    one(`connections: delivery latency p99 at ${rate} msg/s`, 'ms', ours.p99, base.p99),
    {
      name: `connections: messages lost of ${ours.sent} sent`,
      unit: 'messages',
      median: ours.sent - ours.received,
      p99: ours.sent - ours.received,
    },
  ];
}
