import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import { freePort } from '../node/free-port.js';
import { StaticIdentity } from '../plugins/backends/identity-static/static-identity.js';
import type { Conversation } from '../runtime/conversation.js';
import { developmentPolicy } from '../runtime/policy.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { readDomainKey } from '../server/catalogue/keys.js';
import { protofly } from './support/cli.js';
import { type Balancer, type Stat, startBalancer, stats } from './support/haproxy.js';
import { type RedisServer, redisOnDemand } from './support/redis-server.js';
import { silentWebSocket } from './support/silent-ws.js';

/**
 * A domain on three hosts behind one public URL: three `protofly serve --cluster` processes on
 * loopback (each its own ports and data directory, sharing the domain key and one Redis), and
 * HAProxy in front of them run with deploy/haproxy.cfg itself. Clients know only the
 * balancer's catalogue and messaging URLs. One host is drained (SIGTERM) in the middle of a
 * chat load: its /health says draining, the balancer takes it out, its clients move to the
 * other hosts at once, and nothing acknowledged is lost, nothing comes twice, each sender's
 * order holds.
 */

const BIN = join(import.meta.dirname, '../bin/protofly.js');
const DOMAIN = 'c.example';
const HOSTS = 3;
/** How long a wait on a condition may take: a bound for a loaded machine, not a measure. */
const WAIT = { timeout: 20_000 };
const FAST = { [DOMAIN]: { reconnectDelayMs: 50, reconnectDelayMaxMs: 200, randomizationFactor: 0 } };

/** One host of the domain: a `protofly serve --cluster` process and its ports. */
interface Host {
  readonly child: ChildProcess;
  readonly messaging: number;
  readonly admin: number;
  readonly catalogue: number;
  readonly exited: Promise<number | null>;
}

async function startHost(
  dir: string,
  index: number,
  key: string,
  redisUrl: string,
  publicUrl: string,
): Promise<Host> {
  const home = join(dir, `host${index}`);
  const [catalogue, messaging, admin] = [await freePort(), await freePort(), await freePort()];
  // The domain key, made once, copied to each host (README: a domain on several hosts).
  await mkdir(join(home, 'data', 'keys'), { recursive: true });
  await copyFile(key, join(home, 'data', 'keys', `${DOMAIN}.key`));
  const config = join(home, 'domain.yaml');
  // A long shutdownGraceMs and authTimeoutMs: the drained host stays draining while a client
  // that never closes is connected to it, until the test lets it go.
  await writeFile(
    config,
    [
      `domain: ${DOMAIN}`,
      `dataDir: ${join(home, 'data')}`,
      `ports: { catalogue: ${catalogue}, messaging: ${messaging}, admin: ${admin} }`,
      'limits: { messagesPerSecond: 5000, offlineMessages: 1000, shutdownGraceMs: 120000, authTimeoutMs: 120000 }',
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--config', config, '--cluster', redisUrl, '--nodes', '1', '--public-url', publicUrl],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ctrl-C stops it.')) resolve();
    });
    void exited.then((code) => reject(new Error(`host ${index} exited ${code}: ${out}`)));
  });
  return { child, messaging, admin, catalogue, exited };
}

/** Each host's `status` in a backend of the balancer (UP, DOWN...), in host order. */
async function states(balancer: Balancer, backend: string): Promise<string[]> {
  const all = await stats(balancer).catch(() => new Map<string, Stat>());
  return Array.from({ length: HOSTS }, (_, i) => all.get(`${backend}/host${i + 1}`)?.status ?? 'none');
}

/** A host's /health: HTTP status and body. */
async function health(
  host: Host,
): Promise<{ status: number; body: { status: string; connections: number } }> {
  const res = await fetch(`http://127.0.0.1:${host.admin}/health`);
  return { status: res.status, body: (await res.json()) as { status: string; connections: number } };
}

/** Each serving host's open connections (a host that is gone counts none). */
const counts = (hosts: readonly Host[]) =>
  Promise.all(
    hosts.map((h) =>
      health(h).then(
        (r) => r.body.connections,
        () => 0,
      ),
    ),
  );

/** The texts a conversation receives from now on. */
function texts(c: Conversation): string[] {
  const got: string[] = [];
  c.on('message', (m) => got.push((m.body as { text: string }).text));
  return got;
}

/** Sends `n` chats, calling `during` once `at` have been sent; what was acknowledged and what failed. */
async function stream(c: Conversation, n: number, at: number, during?: () => unknown) {
  const acknowledged: string[] = [];
  const failed: string[] = [];
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const text = `m${i}`;
    sends.push(
      c.send(text).then(
        () => void acknowledged.push(text),
        () => void failed.push(text),
      ),
    );
    if (i === at) await during?.();
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(sends);
  return { acknowledged, failed };
}

/** Nothing acknowledged went missing, nothing came twice, and everything came in the order sent. */
function expectDelivered(received: readonly string[], sent: { acknowledged: string[] }) {
  expect(new Set(received).size).toBe(received.length);
  for (const text of sent.acknowledged) expect(received).toContain(text);
  const order = (t: string) => Number(t.slice(1));
  expect([...received].sort((a, b) => order(a) - order(b))).toEqual(received);
}

const redis = redisOnDemand();
let dir = '';
const hosts: Host[] = [];
let balancer: Balancer | undefined;
let issuer: StaticIdentity;
let workerHost: NodeWorkerHost;
const runtimes: NodeRuntime[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-hosts-'));
  const redisServer: RedisServer = await redis();
  const keygen = await protofly(['keygen', '--domain', DOMAIN, '--out', join(dir, 'key')]);
  expect(keygen.code).toBe(0);
  const key = join(dir, 'key', `${DOMAIN}.key`);
  issuer = new StaticIdentity({ domain: DOMAIN, key: await readDomainKey(key, DOMAIN), users: new Map() });
  const ports = [await freePort(), await freePort()];
  const publicUrl = `ws://127.0.0.1:${ports[0]}/`;
  const started = await Promise.allSettled(
    Array.from({ length: HOSTS }, (_, i) => startHost(dir, i + 1, key, redisServer.url, publicUrl)),
  );
  // Those that started are stopped after the tests, even when another did not start.
  hosts.push(...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  balancer = startBalancer(dir, hosts, ports);
  workerHost = new NodeWorkerHost({ policy: developmentPolicy });
  await workerHost.ready();
}, 300_000);

afterAll(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  await workerHost?.terminate();
  const balancerExited = balancer && new Promise((resolve) => balancer!.child.once('exit', resolve));
  balancer?.child.kill('SIGTERM');
  await balancerExited;
  await Promise.all(
    hosts.map((h) => {
      if (h.child.exitCode === null) h.child.kill('SIGTERM');
      return h.exited;
    }),
  );
  await rm(dir, { recursive: true, force: true });
});

/** A runtime of `user` that knows only the balancer's catalogue URL. */
function runtimeOf(user: string): NodeRuntime {
  const address = `user://${DOMAIN}/${user}`;
  const rt = createNodeRuntime({
    policy: developmentPolicy,
    identity: { address, token: (aud) => issuer.issue(address, 600, aud) },
    catalogues: { [DOMAIN]: balancer!.catalogueUrl },
    host: workerHost,
    stubConfig: FAST,
    dataDir: false,
  });
  runtimes.push(rt);
  return rt;
}

/** Registers `rt` through the balancer and waits until a host counts it; returns the host's index. */
async function register(rt: NodeRuntime): Promise<number> {
  const before = await counts(hosts);
  await rt.runtime.register();
  let after = before;
  await expect
    .poll(async () => {
      after = await counts(hosts);
      return after.reduce((a, b) => a + b, 0);
    }, WAIT)
    .toBe(before.reduce((a, b) => a + b, 0) + 1);
  return after.findIndex((n, i) => n > before[i]!);
}

/** Opens `from` → `to` through the balancer, delivers a first chat, and returns both ends. */
async function open(from: NodeRuntime, to: NodeRuntime, toUser: string) {
  const incoming = new Promise<Conversation>((resolve) => to.runtime.on('conversation', resolve));
  const out = await from.runtime.conversation(`user://${DOMAIN}/${toUser}`);
  await out.send('hello');
  const inc = await incoming;
  const first = await inc[Symbol.asyncIterator]().next();
  expect(first.value?.body).toEqual({ kind: 'chat', text: 'hello' });
  return { out, inc };
}

describe('a domain on three hosts behind HAProxy (deploy/haproxy.cfg)', () => {
  it('serves one signed catalogue from every host, naming the public URL', async () => {
    const path = '/.well-known/protofly/stub/default';
    const bodies = await Promise.all(
      hosts.map(async (h) => (await fetch(`http://127.0.0.1:${h.catalogue}${path}`)).text()),
    );
    expect(new Set(bodies).size).toBe(1);
    const viaBalancer = await (await fetch(`${balancer!.catalogueUrl}${path}`)).text();
    expect(viaBalancer).toBe(bodies[0]);
    expect(JSON.parse(viaBalancer).configuration.defaults.url).toBe(balancer!.messagingUrl);
  });

  it('refuses a --public-url that is not a ws:// or wss:// URL, starting nothing', async () => {
    const run = await protofly(['serve', '--public-url', 'http://lb.c.example/']);
    expect([run.code, run.stderr.trim()]).toEqual([
      2,
      "PF_ERR_USAGE: --public-url must be a ws:// or wss:// URL, not 'http://lb.c.example/' (see protofly serve --help)",
    ]);
  });

  it('spreads clients over the hosts; a host drained mid-chat moves its clients to the others, losing nothing acknowledged', async () => {
    const b = balancer!;
    await expect.poll(() => states(b, 'protofly-nodes'), WAIT).toEqual(['UP', 'UP', 'UP']);
    const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
    const users = new Map(names.map((n) => [n, runtimeOf(n)]));
    const placed = new Map<string, number>();
    for (const [name, rt] of users) placed.set(name, await register(rt));
    // Least connections: two each.
    expect(await counts(hosts)).toEqual([2, 2, 2]);
    const on = (h: number) => names.filter((n) => placed.get(n) === h);
    // A chat from each host to the next: the drained host has a sender and a recipient.
    const pairs = [0, 1, 2].map((h) => [on(h)[0]!, on((h + 1) % HOSTS)[1]!] as const);
    const chats = await Promise.all(
      pairs.map(async ([from, to]) => {
        const { out, inc } = await open(users.get(from)!, users.get(to)!, to);
        return { out, received: texts(inc) };
      }),
    );
    const victim = hosts[0]!;
    const stuck = await silentWebSocket(victim.messaging);
    let drained = false;
    const drain = async () => {
      victim.child.kill('SIGTERM');
      // Draining: a 503 saying so, until the last client has left.
      await expect
        .poll(() => health(victim).then((r) => [r.status, r.body.status]), WAIT)
        .toEqual([503, 'draining']);
      // The balancer takes it out on its health checks.
      await expect.poll(() => states(b, 'protofly-nodes'), WAIT).toEqual(['DOWN', 'UP', 'UP']);
      // For the 503 (L7STS: a wrong status at layer 7), read between two checks (`* ` and code 0
      // while one runs).
      const check = async () => {
        const stat = (await stats(b)).get('protofly-nodes/host1');
        return [stat?.status, stat?.check_status, stat?.check_code];
      };
      await expect.poll(check, WAIT).toEqual(['DOWN', 'L7STS', '503']);
      drained = true;
    };
    const sent = await Promise.all(chats.map((c, i) => stream(c.out, 200, 60, i === 0 ? drain : undefined)));
    expect(drained).toBe(true);
    // Every client is on another host; the drained one holds only the client that never leaves.
    await expect.poll(() => counts(hosts), WAIT).toEqual([1, expect.any(Number), expect.any(Number)]);
    const [, second, third] = await counts(hosts);
    expect(second! + third!).toBe(names.length);
    expect(victim.child.exitCode).toBe(null);
    for (const [i, c] of chats.entries()) {
      await expect.poll(() => c.received.length, WAIT).toBeGreaterThanOrEqual(sent[i]!.acknowledged.length);
      expectDelivered(c.received, sent[i]!);
      expect(sent[i]!.acknowledged.length).toBeGreaterThan(150);
    }
    // The last client gone, the host exits, gracefully.
    stuck.destroy();
    expect(await victim.exited).toBe(0);
  }, 120_000);
});
