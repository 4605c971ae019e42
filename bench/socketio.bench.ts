import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import type { Message } from '../core/message.js';
import { startRedis } from '../test/support/redis-server.js';
import { type BenchOptions, percentile, type Result, result, single } from './harness.js';
import { redisUsage } from './redis-usage.js';
import { ALICE, BOB, barePair, latencies, type Path, throughput } from './round-trips.js';
import { ServerChild, type ServerRole } from './server-child.js';

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

async function protoflyPair(alice: ServerChild, bob: ServerChild): Promise<Path> {
  const hello = async (address: string) => ({
    t: 'auth',
    token: await (address === ALICE ? alice : bob).token(address),
  });
  return barePair({ alice: alice.url, bob: bob.url }, hello, async () => {});
}

/** Round trips and CPU of one system's servers (and of their Redis, when they share one), one round. */
async function round(path: Path, servers: readonly ServerChild[], n: number, redis?: Redis) {
  const cpu = async () => (await Promise.all(servers.map((s) => s.cpu()))).reduce((a, b) => a + b, 0);
  const before = await cpu();
  const redisBefore = redis && (await redisUsage(redis));
  const lat = await latencies(path, n);
  const rate = await throughput(path, n * 4);
  // Each round trip is two messages (the chat and Bob's answer).
  const messages = 2 * 5 * n;
  const usPerMessage = ((await cpu()) - before) / messages;
  const redisAfter = redis && (await redisUsage(redis));
  return {
    lat,
    rate,
    usPerMessage,
    redisUs: redisAfter ? (redisAfter.cpuUs - redisBefore!.cpuUs) / messages : 0,
    redisCommands: redisAfter ? (redisAfter.commands - redisBefore!.commands) / messages : 0,
  };
}

async function compareSystems(
  name: string,
  ours: [Path, ServerChild[]],
  theirs: [Path, ServerChild[]],
  rounds: number,
  n: number,
  redis?: Redis,
) {
  await round(...ours, n, redis);
  await round(...theirs, n, redis);
  const side = () => ({
    lat: [] as number[],
    rate: [] as number[],
    cpu: [] as number[],
    redisUs: [] as number[],
    redisCommands: [] as number[],
  });
  const acc = [side(), side()] as const;
  for (let r = 0; r < rounds; r++) {
    for (const [i, system] of [ours, theirs].entries()) {
      const got = await round(...system, n, redis);
      acc[i]!.lat.push(...got.lat);
      acc[i]!.rate.push(got.rate);
      acc[i]!.cpu.push(got.usPerMessage);
      acc[i]!.redisUs.push(got.redisUs);
      acc[i]!.redisCommands.push(got.redisCommands);
    }
  }
  const [o, t] = acc;
  return [
    result(`${name}: round trip latency (p50)`, 'µs', o.lat, t.lat),
    single(`${name}: round trip latency (p99)`, 'µs', percentile(o.lat, 99), percentile(t.lat, 99)),
    result(`${name}: round trips, 64 in flight`, 'round trips/s', o.rate, t.rate),
    result(`${name}: server CPU per message`, 'µs', o.cpu, t.cpu),
    ...(redis
      ? [
          result(`${name}: Redis CPU per message`, 'µs', o.redisUs, t.redisUs),
          result(`${name}: Redis commands per message`, 'commands', o.redisCommands, t.redisCommands),
        ]
      : []),
  ];
}

export default async function socketioBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 7;
  const n = quick ? 300 : 1500;
  const redis = await startRedis();
  const info = new Redis(redis.url);
  const children: ServerChild[] = [];
  const start = (role: ServerRole, url?: string) => {
    const c = new ServerChild(fileURLToPath(import.meta.url), role, url);
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
        info,
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
    info.disconnect();
    await redis.stop();
  }
}
