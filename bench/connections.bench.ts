import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { type BenchOptions, heapAfterGc, type Result } from './harness.js';
import { startPlainHub } from './plain-hub.js';

/**
 * Many concurrent authenticated WebSocket sessions on one messaging node, each sending a chat
 * to a random other session every few seconds, driven by a load generator in another process
 * (bench/load-clients.mjs). Reported: the node's memory per connection (heap + external after
 * a full GC, in this process, connected minus before) and delivery latency p50/p99 at the
 * aggregate rate, each against the plain `ws` hub under the same load.
 */

interface Run {
  bytesPerConnection: number;
  connectMs: number;
  sent: number;
  received: number;
  p50: number;
  p99: number;
}

async function drive(
  url: string,
  protocol: string | null,
  clients: { address: string; hello: object }[],
  rate: number,
  seconds: number,
  dir: string,
): Promise<Run> {
  const file = join(dir, `load-${protocol ?? 'hub'}.json`);
  await writeFile(file, JSON.stringify({ url, protocol, clients, rate, seconds, concurrency: 200 }));
  const before = heapAfterGc();
  const child = fork(join(process.env.PF_ROOT ?? process.cwd(), 'bench/load-clients.mjs'), [file], {
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    let run: Partial<Run> = {};
    child.on('error', reject);
    child.on(
      'message',
      (msg: { t: string; ms?: number; sent?: number; received?: number; p50?: number; p99?: number }) => {
        if (msg.t === 'connected') {
          run = { connectMs: msg.ms ?? 0, bytesPerConnection: (heapAfterGc() - before) / clients.length };
          child.send('go');
        } else if (msg.t === 'result') {
          resolve({
            ...(run as Run),
            sent: msg.sent ?? 0,
            received: msg.received ?? 0,
            p50: msg.p50 ?? 0,
            p99: msg.p99 ?? 0,
          });
        }
      },
    );
    child.on('exit', (code) => {
      if (code) reject(new Error(`load generator exited ${code}`));
    });
  });
}

export default async function connectionsBench({ quick, root }: BenchOptions): Promise<Result[]> {
  process.env.PF_ROOT = root;
  const n = quick ? 1000 : 10_000;
  const rate = quick ? 400 : 2000;
  const seconds = quick ? 5 : 20;
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-conn-'));
  const identity = await testIdentity('b.example');
  const addresses = Array.from({ length: n }, (_, i) => `user://b.example/u${i}`);

  const node = await startMessagingNode({
    domain: 'b.example',
    identity,
    maxConnections: n + 100,
    log: pino({ level: 'silent' }),
  });
  const clients = await Promise.all(
    addresses.map(async (address) => ({
      address,
      hello: { t: 'auth', token: await identity.issue(address, 3600) },
    })),
  );
  const ours = await drive(node.url, 'protofly.json-ws.v1', clients, rate, seconds, dir);
  await node.close();

  const hub = await startPlainHub();
  const base = await drive(
    hub.url,
    null,
    addresses.map((address) => ({ address, hello: { t: 'hello', address } })),
    rate,
    seconds,
    dir,
  );
  await hub.close();
  await rm(dir, { recursive: true, force: true });

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
