import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { WebSocket } from 'ws';
import type { Message } from '../core/message.js';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import { serviceOf } from '../test/support/backends.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { startRedis } from '../test/support/redis-server.js';
import { type BenchOptions, percentile, type Result, result, single } from './harness.js';
import { ALICE, BOB, barePair, latencies, type Path, throughput } from './round-trips.js';

/**
 * protofly's messaging node against socket.io 4.8 with server acks (what ApiRTC's node was
 * built on), interleaved in one run, with the same bare `ws` load generator (this process):
 * chat round trips Alice → Bob → Alice, one at a time (p50, p99) and 64 in flight, and the
 * servers' CPU per message (each server is its own child process: user + system time over the
 * messages both carried). Two nodes on one redis-server (protofly: location-redis and
 * cluster-redis, acknowledged once written to Bob's socket; socket.io: `@socket.io/redis-adapter`,
 * acknowledged once emitted), Alice on one and Bob on the other; and one node each (protofly
 * on its default in-memory services, socket.io on its in-memory adapter).
 */

/** What a server child says and is asked over IPC. */
type FromChild = { t: 'ready'; url: string } | { t: 'token'; token: string } | { t: 'cpu'; us: number };

const ROLE = process.env.PF_BENCH_SERVER;
if (ROLE) void serve(ROLE, process.env.PF_BENCH_REDIS);

/** A child: one protofly node or one socket.io server, on Redis when given. */
async function serve(role: string, redisUrl: string | undefined): Promise<void> {
  let url: string;
  let issue: (address: string) => Promise<string> = async () => '';
  if (role === 'protofly') {
    const identity = await testIdentity('b.example');
    const services = redisUrl
      ? await (async () => {
          const location = await serviceOf('location', 'location-redis', { url: redisUrl });
          return {
            location,
            cluster: await serviceOf('cluster', 'cluster-redis', { url: redisUrl }, { location }),
          };
        })()
      : {};
    const node = await startMessagingNode({
      domain: 'b.example',
      identity,
      messagesPerSecond: 1e9,
      log: pino({ level: 'silent' }),
      ...services,
    });
    url = node.url;
    issue = (address) => identity.issue(address);
  } else {
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false });
    if (redisUrl) io.adapter(createAdapter(new Redis(redisUrl), new Redis(redisUrl)));
    io.on('connection', (socket) => {
      void socket.join(String(socket.handshake.query.user));
      socket.on('msg', (m: { to: string }, ack?: () => void) => {
        io.to(m.to).emit('msg', m);
        ack?.();
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/socket.io/?EIO=4&transport=websocket`;
  }
  process.on('message', (q: { t: string; address?: string }) => {
    if (q.t === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ t: 'cpu', us: user + system });
    } else if (q.t === 'token') void issue(q.address!).then((token) => process.send!({ t: 'token', token }));
  });
  process.send!({ t: 'ready', url });
}

/** A server child and what it answers. */
class Child {
  readonly proc: ChildProcess;
  url = '';
  #waiting: ((m: FromChild) => void)[] = [];

  constructor(role: string, redisUrl?: string) {
    this.proc = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, PF_BENCH_SERVER: role, PF_BENCH_REDIS: redisUrl ?? '' },
      stdio: 'inherit',
    });
    this.proc.on('message', (m: FromChild) => this.#waiting.shift()?.(m));
  }

  async ready(): Promise<this> {
    this.url = ((await this.#next()) as { url: string }).url;
    return this;
  }

  async ask(q: object): Promise<FromChild> {
    const answer = this.#next();
    this.proc.send(q);
    return answer;
  }

  #next(): Promise<FromChild> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async cpu(): Promise<number> {
    return ((await this.ask({ t: 'cpu' })) as { us: number }).us;
  }

  stop(): void {
    this.proc.kill();
  }
}

/** A bare socket.io client (Engine.IO 4 over `ws`): connected to namespace `/`, answering pings. */
function socketioClient(
  url: string,
  user: string,
  onMsg: (m: Message, ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}&user=${encodeURIComponent(user)}`, { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('message', (data) => {
      const s = data.toString();
      if (s === '2') ws.send('3');
      else if (s.startsWith('0')) ws.send('40');
      else if (s.startsWith('40')) resolve(ws);
      else if (s.startsWith('42')) onMsg((JSON.parse(s.slice(2)) as [string, Message])[1], ws);
    });
  });
}

/** Alice on `alice`, an echoing Bob on `bob`, as socket.io clients; each message sent with an ack id. */
async function socketioPair(alice: string, bob: string): Promise<Path> {
  let ack = 0;
  const emit = (ws: WebSocket, m: object) => ws.send(`42${++ack}${JSON.stringify(['msg', m])}`);
  const path: Path = { send: () => {}, onReply: () => {}, close: async () => {} };
  const bobWs = await socketioClient(bob, BOB, (m, ws) =>
    emit(ws, { to: ALICE, from: BOB, id: m.id, code: 200 }),
  );
  const aliceWs = await socketioClient(alice, ALICE, (m) => path.onReply(m));
  let n = 0;
  path.send = () =>
    emit(aliceWs, {
      to: BOB,
      from: ALICE,
      id: `m${++n}`,
      type: 'create',
      body: { value: { kind: 'chat', text: 'hello bob, a chat message' } },
    });
  path.close = async () => {
    aliceWs.close();
    bobWs.close();
  };
  return path;
}

async function protoflyPair(alice: Child, bob: Child): Promise<Path> {
  const hello = async (address: string) => {
    const node = address === ALICE ? alice : bob;
    return { t: 'auth', token: ((await node.ask({ t: 'token', address })) as { token: string }).token };
  };
  return barePair({ alice: alice.url, bob: bob.url }, hello, async () => {});
}

/** Round trips and CPU of one system's servers, one round. */
async function round(path: Path, servers: readonly Child[], n: number) {
  const cpu = async () => (await Promise.all(servers.map((s) => s.cpu()))).reduce((a, b) => a + b, 0);
  const before = await cpu();
  const lat = await latencies(path, n);
  const rate = await throughput(path, n * 4);
  // Each round trip is two messages (the chat and Bob's answer).
  const usPerMessage = ((await cpu()) - before) / (2 * 5 * n);
  return { lat, rate, usPerMessage };
}

async function compareSystems(
  name: string,
  ours: [Path, Child[]],
  theirs: [Path, Child[]],
  rounds: number,
  n: number,
) {
  await round(...ours, n);
  await round(...theirs, n);
  const acc = [
    { lat: [] as number[], rate: [] as number[], cpu: [] as number[] },
    { lat: [] as number[], rate: [] as number[], cpu: [] as number[] },
  ];
  for (let r = 0; r < rounds; r++) {
    for (const [i, side] of [ours, theirs].entries()) {
      const got = await round(...side, n);
      acc[i]!.lat.push(...got.lat);
      acc[i]!.rate.push(got.rate);
      acc[i]!.cpu.push(got.usPerMessage);
    }
  }
  const [o, t] = acc as [(typeof acc)[0], (typeof acc)[0]];
  return [
    result(`${name}: round trip latency (p50)`, 'µs', o.lat, t.lat),
    single(`${name}: round trip latency (p99)`, 'µs', percentile(o.lat, 99), percentile(t.lat, 99)),
    result(`${name}: round trips, 64 in flight`, 'round trips/s', o.rate, t.rate),
    result(`${name}: server CPU per message`, 'µs', o.cpu, t.cpu),
  ];
}

export default async function socketioBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 300 : 1500;
  const redis = await startRedis();
  const children: Child[] = [];
  const start = (role: string, url?: string) => {
    const c = new Child(role, url);
    children.push(c);
    return c.ready();
  };
  try {
    const [p1, p2, s1, s2, p, s] = await Promise.all([
      start('protofly', redis.url),
      start('protofly', redis.url),
      start('socketio', redis.url),
      start('socketio', redis.url),
      start('protofly'),
      start('socketio'),
    ]);
    const results: Result[] = [];
    results.push(
      ...(await compareSystems(
        'two nodes on Redis, protofly against socket.io + redis-adapter (acks)',
        [await protoflyPair(p1, p2), [p1, p2]],
        [await socketioPair(s1.url, s2.url), [s1, s2]],
        rounds,
        n,
      )),
      ...(await compareSystems(
        'one node, protofly against socket.io (acks)',
        [await protoflyPair(p, p), [p]],
        [await socketioPair(s.url, s.url), [s]],
        rounds,
        n,
      )),
    );
    return results;
  } finally {
    for (const c of children) c.stop();
    await redis.stop();
  }
}
