import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { response } from '../core/message.js';
import { type BenchOptions, type Result, result, single } from './harness.js';
import { ALICE, BOB, bareClient, chat } from './round-trips.js';
import { type NodeLimits, ServerChild } from './server-child.js';

/**
 * A connection that floods the messaging node with large frames, against a chat beside it. The
 * node runs its default limits in a child process of its own; Alice and Bob (this process) chat
 * one round trip every 20 ms, first alone, then while Eve (a third process) sends 60 KB frames of
 * 30,000 numbers (the costliest bytes to parse, milliseconds a frame) to an offline user as fast
 * as her socket takes them. Rows: the chat's round trip during the flood against the same alone,
 * and the node's CPU during the flood; with the node's byte budget (limits.bytesPerSecond, its
 * default) and without it.
 */

const EVE = 'user://b.example/eve';
/** Milliseconds between two chat round trips: within the default 100 messages a second. */
const PACE_MS = 20;
/** What Eve keeps written and not yet sent on her socket. */
const EVE_BUFFERED = 4_000_000;

if (process.env.PF_BENCH_FLOOD) void flood(process.env.PF_BENCH_FLOOD, process.env.PF_BENCH_FLOOD_TOKEN!);

/** Eve, in a child of the bench's own: floods until killed, says how many frames she wrote when asked. */
async function flood(url: string, token: string): Promise<void> {
  const eve = await bareClient(url, { t: 'auth', token }, () => {});
  const value = `[${Array(30_000).fill('1').join(',')}]`;
  let written = 0;
  const more = () => {
    while (eve.bufferedAmount < EVE_BUFFERED) {
      eve.send(
        `{"t":"msg","m":{"id":"f${++written}","type":"create","from":"${EVE}","to":"user://b.example/nobody","body":{"value":${value}}}}`,
      );
    }
    setTimeout(more, 5);
  };
  more();
  process.on('message', () => process.send!({ written }));
}

/** Chat round trips every PACE_MS for `ms` milliseconds; microseconds each. */
async function paced(roundTrip: () => Promise<void>, ms: number): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    await roundTrip();
    samples.push((performance.now() - t0) * 1000);
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
  }
  return samples;
}

async function floodRound(program: string, label: string, limits: NodeLimits, ms: number): Promise<Result[]> {
  const node = await new ServerChild(program, 'protofly', undefined, undefined, limits).ready();
  const bob = await bareClient(node.url, { t: 'auth', token: await node.token(BOB) }, (m, ws) =>
    ws.send(JSON.stringify({ t: 'msg', m: response(m, 200) })),
  );
  let replied = () => {};
  const alice = await bareClient(node.url, { t: 'auth', token: await node.token(ALICE) }, () => replied());
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      replied = resolve;
      alice.send(JSON.stringify({ t: 'msg', m: chat(ALICE, BOB) }));
    });
  let eve: ChildProcess | undefined;
  try {
    await paced(roundTrip, ms / 2); // warm-up
    const alone = await paced(roundTrip, ms);
    const flooder = fork(program, [], {
      env: { ...process.env, PF_BENCH_FLOOD: node.url, PF_BENCH_FLOOD_TOKEN: await node.token(EVE) },
      stdio: 'inherit',
    });
    eve = flooder;
    // Until Eve has written her first frames: the flood is on.
    for (let written = 0; written === 0; ) {
      flooder.send({});
      const said = await new Promise((resolve) => flooder.once('message', resolve));
      written = (said as { written: number }).written;
    }
    const cpu0 = await node.cpu();
    const t0 = performance.now();
    const during = await paced(roundTrip, ms);
    const cpu = (await node.cpu()) - cpu0;
    const percent = (100 * cpu) / ((performance.now() - t0) * 1000);
    return [
      result(`chat round trip while another connection floods 60 KB frames, ${label}`, 'µs', during, alone),
      single(`node CPU while one connection floods 60 KB frames, ${label}`, '%', percent),
    ];
  } finally {
    eve?.kill();
    alice.terminate();
    bob.terminate();
    node.stop();
  }
}

export default async function floodBench({ quick }: BenchOptions): Promise<Result[]> {
  const program = fileURLToPath(import.meta.url);
  const ms = quick ? 1000 : 3000;
  return [
    ...(await floodRound(program, 'with the byte budget (default)', { messagesPerSecond: 100 }, ms)),
    ...(await floodRound(program, 'without it', { messagesPerSecond: 100, bytesPerSecond: 1e12 }, ms)),
  ];
}
