import { type ChildProcess, fork } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { StaticIdentity } from '../plugins/backends/identity-static/static-identity.js';
import { publicJwkOf } from '../server/catalogue/keys.js';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import type { MessagingNodeOptions } from '../server/messaging-node/options.js';
import { serviceOf } from '../test/support/backends.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { heapAfterGc } from './harness.js';

/**
 * A server of a benchmark in a child process of its own (its own core time, measured apart
 * from the load generator's): one protofly messaging node of b.example, or one socket.io 4.8
 * server relaying `msg` events to the room named by `to` with server acks; on Redis when given
 * one (location-redis and cluster-redis; `@socket.io/redis-adapter`), else on their in-memory
 * services. A bench bundle that imports this module becomes the child's program: forked with
 * PF_BENCH_SERVER set, it serves instead of benchmarking.
 */

/** Which server a child runs. */
export type ServerRole = 'protofly' | 'socketio';

/** A protofly node's limits other than the bench's default (messages unlimited). */
export type NodeLimits = Pick<MessagingNodeOptions, 'messagesPerSecond' | 'bytesPerSecond'>;

/** What a server child says and is asked over IPC. */
type FromChild =
  | { t: 'ready'; url: string; adminUrl: string }
  | { t: 'token'; token: string }
  | { t: 'cpu'; us: number }
  | { t: 'heap'; bytes: number };

const ROLE = process.env.PF_BENCH_SERVER as ServerRole | undefined;
if (ROLE) void serve(ROLE, process.env.PF_BENCH_REDIS);

/**
 * b.example's identity: on the key `pem` (PKCS#8) when given, shared by several nodes so that
 * a token is good on whichever a balancer picks, else on a fresh key.
 */
export async function benchIdentity(pem?: string): Promise<StaticIdentity> {
  if (!pem) return testIdentity('b.example');
  const privateKey = createPrivateKey(pem);
  return new StaticIdentity({
    domain: 'b.example',
    key: { privateKey, publicJwk: await publicJwkOf(privateKey) },
    users: new Map(),
  });
}

/** A fresh PKCS#8 key for {@link benchIdentity}, to share between nodes. */
export async function benchKey(): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A child: one protofly node or one socket.io server, on Redis when given. */
async function serve(role: ServerRole, redisUrl: string | undefined): Promise<void> {
  let url: string;
  let adminUrl = '';
  let issue: (address: string) => Promise<string> = async () => '';
  if (role === 'protofly') {
    const identity = await benchIdentity(process.env.PF_BENCH_KEY);
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
      ...(JSON.parse(process.env.PF_BENCH_LIMITS || '{}') as NodeLimits),
    });
    url = node.url;
    adminUrl = node.adminUrl;
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
    } else if (q.t === 'heap') process.send!({ t: 'heap', bytes: heapAfterGc() });
    else if (q.t === 'token') void issue(q.address!).then((token) => process.send!({ t: 'token', token }));
  });
  process.send!({ t: 'ready', url, adminUrl });
}

/** A server child and what it answers, one question at a time. */
export class ServerChild {
  readonly proc: ChildProcess;
  url = '';
  /** The protofly node's admin URL (/health); empty for socket.io. */
  adminUrl = '';
  #waiting: ((m: FromChild) => void)[] = [];

  /**
   * @param program - the bench bundle to fork (its `import.meta.url`), which imports this module
   * @param key - a protofly node's domain key ({@link benchKey}), when several share one
   * @param limits - a protofly node's own limits
   */
  constructor(program: string, role: ServerRole, redisUrl?: string, key?: string, limits: NodeLimits = {}) {
    this.proc = fork(program, [], {
      env: {
        ...process.env,
        PF_BENCH_SERVER: role,
        PF_BENCH_REDIS: redisUrl ?? '',
        PF_BENCH_KEY: key ?? '',
        PF_BENCH_LIMITS: JSON.stringify(limits),
      },
      stdio: 'inherit',
    });
    this.proc.on('message', (m: FromChild) => this.#waiting.shift()?.(m));
  }

  async ready(): Promise<this> {
    const ready = (await this.#next()) as { url: string; adminUrl: string };
    this.url = ready.url;
    this.adminUrl = ready.adminUrl;
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

  /** A token for `address` from the node's identity (protofly). */
  async token(address: string): Promise<string> {
    return ((await this.ask({ t: 'token', address })) as { token: string }).token;
  }

  /** Its user + system CPU time so far, µs. */
  async cpu(): Promise<number> {
    return ((await this.ask({ t: 'cpu' })) as { us: number }).us;
  }

  /** Its heap in use after a full collection, bytes. */
  async heap(): Promise<number> {
    return ((await this.ask({ t: 'heap' })) as { bytes: number }).bytes;
  }

  stop(): void {
    this.proc.kill();
  }
}
