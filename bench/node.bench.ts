import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { JsonWsFrame } from '../core/generated/types.js';
import { type Message, request, response } from '../core/message.js';
import { createNodeRuntime } from '../node/runtime.js';
import activate from '../plugins/stubs/json-ws/index.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { startLocalDomains } from '../server/domain.js';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import { DirectContext, DirectSession } from '../test/support/direct-context.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { type BenchOptions, percentile, type Result, result } from './harness.js';
import { startPlainHub } from './plain-hub.js';

/**
 * Chat round trips Alice → Bob → Alice on loopback, four WebSocket hops each, through:
 *
 * - the baseline: a plain `ws` JSON hub (parse, look up `m.to`, re-serialise, send);
 * - the messaging node, with bare clients speaking json-ws (the node validates every frame,
 *   checks the sender, rate-limits, acknowledges and counts);
 * - the node with the json-ws stub at both ends (framing, ack window, de-duplication),
 *   run on a direct context, without a sandbox;
 * - the whole product: Alice's runtime (bus, conversation, sandboxed stub in a worker) →
 *   b.example's node → Bob's runtime, whose app takes the chat and whose runtime answers 200
 *   back the same way. The round trip ends when Alice's `send` resolves.
 *
 * Latency: one message at a time. Throughput: `WINDOW` round trips in flight.
 */

const ALICE = 'user://b.example/alice';
const BOB = 'user://b.example/bob';
const WINDOW = 64;

/** Alice's end of a route to Bob, who answers every message with a 200. */
interface Path {
  send(m: Message): void;
  onReply: (m: Message) => void;
  close(): Promise<void>;
}

const chat = () =>
  request('create', ALICE, BOB, { value: { kind: 'chat', text: 'hello bob, a chat message' } });

/** A bare client: sends `hello`, waits for `ready`, then gives every `msg` frame to `onMsg`. */
function bareClient(
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

/** Alice and an echoing Bob as bare clients of `url`; `close` ends what serves them. */
async function barePair(
  url: string,
  hello: (address: string) => Promise<object>,
  close: () => Promise<void>,
): Promise<Path> {
  const path: Path = { send: () => {}, onReply: () => {}, close: async () => {} };
  const bob = await bareClient(url, await hello(BOB), (m, ws) =>
    ws.send(JSON.stringify({ t: 'msg', m: response(m, 200) })),
  );
  const alice = await bareClient(url, await hello(ALICE), (m) => path.onReply(m));
  path.send = (m) => alice.send(JSON.stringify({ t: 'msg', m }));
  path.close = async () => {
    alice.close();
    bob.close();
    await close();
  };
  return path;
}

/** The baseline hub. */
async function hubPath(): Promise<Path> {
  const hub = await startPlainHub();
  return barePair(
    hub.url,
    async (address) => ({ t: 'hello', address }),
    () => hub.close(),
  );
}

async function startNode() {
  const identity = await testIdentity('b.example');
  const node = await startMessagingNode({
    domain: 'b.example',
    identity,
    messagesPerSecond: 1e9,
    log: pino({ level: 'silent' }),
  });
  return { node, identity };
}

/** The node with bare json-ws clients. */
async function nodePath(): Promise<Path> {
  const { node, identity } = await startNode();
  return barePair(
    node.url,
    async (address) => ({ t: 'auth', token: await identity.issue(address) }),
    () => node.close(),
  );
}

/** A direct context that hands what the stub receives to `deliver` instead of recording it. */
class BenchContext extends DirectContext {
  deliver: (m: Message) => void = () => {};
  override send(msg: Message): void {
    this.deliver(msg);
  }
}

/** The node with the json-ws stub at both ends. */
async function stubPath(): Promise<Path> {
  const { node, identity } = await startNode();
  const open = async (address: string) => {
    const session = new DirectSession();
    const ctx = new BenchContext({
      address,
      token: await identity.issue(address),
      config: { url: node.url },
      session,
    });
    const stub = await activate(ctx);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    return { ctx, stub, session };
  };
  const alice = await open(ALICE);
  const bob = await open(BOB);
  bob.ctx.deliver = (m) => bob.stub.postMessage(response(m, 200));
  const path: Path = {
    send: (m) => alice.stub.postMessage(m),
    onReply: () => {},
    close: async () => {
      for (const end of [alice, bob]) {
        await end.stub.stop();
        end.ctx.end();
        end.session.end();
      }
      await node.close();
    },
  };
  alice.ctx.deliver = (m) => path.onReply(m);
  return path;
}

/** Two runtimes, each with the verified json-ws stub in a worker sandbox, through real domains. */
async function runtimePath(): Promise<Path> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-node-'));
  const domains = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map(),
    log: pino({ level: 'silent' }),
    limits: { messagesPerSecond: 1_000_000 },
  });
  const host = new NodeWorkerHost();
  const runtime = (address: string) => {
    const home = domains.byName.get(address.split('/')[2]!)!;
    return createNodeRuntime({
      identity: { address, token: (aud) => home.identity.issue(address, 600, aud) },
      catalogues: domains.peers,
      host,
    });
  };
  const bob = runtime('user://b.example/bob');
  await bob.runtime.register();
  const alice = runtime('user://a.example/alice');
  const withBob = await alice.runtime.conversation('user://b.example/bob');
  const text = (chat().body as { value: { text: string } }).value.text;
  const path: Path = {
    send: () => {
      withBob.send(text).then(
        (res) => path.onReply(res),
        (err: Error) => console.error(err.message),
      );
    },
    onReply: () => {},
    close: async () => {
      await alice.close();
      await bob.close();
      await host.terminate();
      await domains.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return path;
}

/** `n` round trips one after another; microseconds each. */
async function latencies(path: Path, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      path.onReply = () => resolve();
      path.send(chat());
    });
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/** Round trips a second with `WINDOW` in flight, over `n` round trips. */
function throughput(path: Path, n: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    path.onReply = () => {
      if (++done === n) resolve(n / ((performance.now() - t0) / 1000));
      else if (sent < n) {
        sent++;
        path.send(chat());
      }
    };
    for (; sent < Math.min(WINDOW, n); sent++) path.send(chat());
  });
}

/** Ours against the baseline, alternating rounds so both see the same machine state. */
async function compare(name: string, ours: Path, base: Path, rounds: number, n: number): Promise<Result[]> {
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

export default async function nodeBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 500 : 2500;
  const hub = await hubPath();
  const results: Result[] = [];
  for (const [name, start] of [
    ['node, bare clients', nodePath],
    ['node, json-ws stub at both ends', stubPath],
    ['runtime + sandbox + json-ws stub + node, end to end', runtimePath],
  ] as const) {
    const path = await start();
    results.push(...(await compare(name, path, hub, rounds, n)));
    await path.close();
  }
  await hub.close();
  return results;
}
