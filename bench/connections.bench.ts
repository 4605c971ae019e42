import { type BenchOptions, type Result, single } from './harness.js';
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
  return [
    single(
      `connections: ${n} sessions held, memory per connection`,
      'KB',
      ours.bytesPerConnection / 1024,
      base.bytesPerConnection / 1024,
    ),
    single(
      `connections: ${n} sessions, time to connect and authenticate all`,
      'ms',
      ours.connectMs,
      base.connectMs,
    ),
    single(`connections: delivery latency p50 at ${rate} msg/s`, 'ms', ours.p50, base.p50),
    single(`connections: delivery latency p99 at ${rate} msg/s`, 'ms', ours.p99, base.p99),
    single(`connections: messages lost of ${ours.sent} sent`, 'messages', ours.sent - ours.received),
  ];
}
