import { WebSocket } from 'ws';
import type { JsonWsFrame } from '../core/generated/types.js';
import { type Message, request, response } from '../core/message.js';
import { percentile, type Result, result } from './harness.js';

/**
 * Chat round trips Alice → Bob → Alice, as the messaging benchmarks measure them: through any
 * path that carries Alice's chat to a Bob who answers every message with a 200. Latency: one
 * message at a time. Throughput: `WINDOW` round trips in flight.
 */

export const ALICE = 'user://b.example/alice';
export const BOB = 'user://b.example/bob';
export const WINDOW = 64;

/** Alice's end of a route to Bob, who answers every message with a 200. */
export interface Path {
  /** Sends Alice's next chat. */
  send(): void;
  onReply: (m: Message) => void;
  close(): Promise<void>;
}

/** A chat from `from` to `to`. */
export const chat = (from = ALICE, to = BOB) =>
  request('create', from, to, { value: { kind: 'chat', text: 'hello bob, a chat message' } });

/** A bare client: sends `hello`, waits for `ready`, then gives every `msg` frame to `onMsg`. */
export function bareClient(
  url: string,
  hello: object,
  onMsg: (m: Message, ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['protofly.json-ws.v1'], { perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify(hello)));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as JsonWsFrame;
      if (frame.t === 'msg') onMsg(frame.m, ws);
      else if (frame.t === 'ready') resolve(ws);
    });
  });
}

/**
 * `alice` and an echoing `bob` as bare clients, Alice of `urls.alice` and Bob of `urls.bob`
 * (the same server, or two nodes of a cluster); `close` ends what serves them.
 */
export async function barePair(
  urls: { alice: string; bob: string },
  hello: (address: string) => Promise<object>,
  close: () => Promise<void>,
  alice = ALICE,
  bob = BOB,
): Promise<Path> {
  const path: Path = { send: () => {}, onReply: () => {}, close: async () => {} };
  const bobWs = await bareClient(urls.bob, await hello(bob), (m, ws) =>
    ws.send(JSON.stringify({ t: 'msg', m: response(m, 200) })),
  );
  const aliceWs = await bareClient(urls.alice, await hello(alice), (m) => path.onReply(m));
  path.send = () => aliceWs.send(JSON.stringify({ t: 'msg', m: chat(alice, bob) }));
  path.close = async () => {
    aliceWs.close();
    bobWs.close();
    await close();
  };
  return path;
}

/** Several paths as one: sends go to each in turn, replies from all count. */
export function fanOut(paths: readonly Path[], close: () => Promise<void>): Path {
  let next = 0;
  const path: Path = {
    send: () => paths[next++ % paths.length]!.send(),
    onReply: () => {},
    close: async () => {
      for (const p of paths) await p.close();
      await close();
    },
  };
  for (const p of paths) p.onReply = (m) => path.onReply(m);
  return path;
}

/** `n` round trips one after another; microseconds each. */
export async function latencies(path: Path, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      path.onReply = () => resolve();
      path.send();
    });
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/** Round trips a second with `WINDOW` in flight, over `n` round trips. */
export function throughput(path: Path, n: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    path.onReply = () => {
      if (++done === n) resolve(n / ((performance.now() - t0) / 1000));
      else if (sent < n) {
        sent++;
        path.send();
      }
    };
    for (; sent < Math.min(WINDOW, n); sent++) path.send();
  });
}

/** Ours against the baseline, alternating rounds so both see the same machine state. */
export async function compare(
  name: string,
  ours: Path,
  base: Path,
  rounds: number,
  n: number,
): Promise<Result[]> {
  await latencies(ours, n);
  await latencies(base, n);
  const lat: [number[], number[]] = [[], []];
  const rate: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    lat[0].push(...(await latencies(ours, n)));
    lat[1].push(...(await latencies(base, n)));
    rate[0].push(await throughput(ours, n * 4));
    rate[1].push(await throughput(base, n * 4));
  }
  const p99 = percentile(lat[0], 99);
  const baseP99 = percentile(lat[1], 99);
  return [
    result(`${name}: round trip latency (p50)`, 'µs', lat[0], lat[1]),
    {
      name: `${name}: round trip latency (p99)`,
      unit: 'µs',
      median: p99,
      p99,
      baseline: baseP99,
      ratio: p99 / baseP99,
    },
    result(`${name}: round trips, ${WINDOW} in flight`, 'round trips/s', rate[0], rate[1]),
  ];
}
