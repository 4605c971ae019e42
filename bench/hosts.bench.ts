import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../node/free-port.js';
import { type Balancer, balancerCommand, startBalancer, stats } from '../test/support/haproxy.js';
import { startRedis } from '../test/support/redis-server.js';
import { type BenchOptions, percentile, type Result, result, single } from './harness.js';
import { redisUsage } from './redis-usage.js';
import { barePair, fanOut, latencies, type Path, throughput, WINDOW } from './round-trips.js';
import { benchIdentity, benchKey, ServerChild } from './server-child.js';

/**
 * A domain on one, two and three hosts behind one public URL, in one run: three protofly
 * messaging nodes (each its own process, one domain key, location-redis and cluster-redis on
 * one redis-server) behind HAProxy running deploy/haproxy.cfg, the hosts beyond the phase's
 * count set to maintenance through its runtime API. Every client connects to the balancer's URL
 * only. Per phase: connections made and authenticated per second, the nodes' heap per
 * connection, chat round trips per second over every pair (`WINDOW` in flight; with N hosts a
 * pair crosses hosts (N-1)/N of the time), and what each message cost in CPU of the nodes,
 * Redis and HAProxy, and in Redis commands: the per-host figures docs/scaling.md builds on.
 * Then the cross-host round trip: Alice placed on host 1 and Bob on host 2 against both on host 1,
 * through the balancer, alternating.
 *
 * All of it shares this machine's cores: the load generator (this process), three nodes, Redis
 * and HAProxy. Messages per second therefore cannot grow with hosts here; what the phases show
 * is what a host costs per message and per connection.
 */

const HOSTS = 3;

/** A process's user + system CPU time so far, µs (Linux /proc, clock ticks of 10 ms). */
function procCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the line; 12 and 13 after "<pid> (<comm>) ".
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * Puts the hosts `on` (numbered from 1) in service and the others in maintenance, and waits
 * until the balancer counts them so.
 */
async function inService(balancer: Balancer, on: readonly number[]): Promise<void> {
  const states = Array.from({ length: HOSTS }, (_, i) => (on.includes(i + 1) ? 'UP' : 'MAINT'));
  for (const [i, state] of states.entries()) {
    const word = state === 'UP' ? 'ready' : 'maint';
    await balancerCommand(balancer, `set server protofly-nodes/host${i + 1} state ${word}`);
  }
  for (;;) {
    const all = await stats(balancer).catch(() => new Map());
    if (states.every((s, i) => all.get(`protofly-nodes/host${i + 1}`)?.status === s)) return;
    await pause();
  }
}

/** Waits until the nodes hold no connection (closes reach them after the clients closed). */
async function allClosed(hosts: readonly ServerChild[]): Promise<void> {
  const open = async () => {
    const healths = await Promise.all(
      hosts.map(
        async (h) =>
          ((await (await fetch(`${h.adminUrl}/health`)).json()) as { connections: number }).connections,
      ),
    );
    return healths.reduce((a, b) => a + b, 0);
  };
  while ((await open()) > 0) await pause();
}

/** A tenth of a second, between looks at the balancer's state. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 100));

export default async function hostsBench({ quick }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 2 : 5;
  const n = quick ? 300 : 1500;
  const pairs = quick ? 100 : 500;
  const program = fileURLToPath(import.meta.url);
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-hosts-'));
  const redis = await startRedis();
  const info = new Redis(redis.url);
  const key = await benchKey();
  const identity = await benchIdentity(key);
  const hello = async (address: string) => ({ t: 'auth', token: await identity.issue(address) });
  const hosts: ServerChild[] = [];
  let balancer: Balancer | undefined;
  try {
    hosts.push(
      ...(await Promise.all(
        Array.from({ length: HOSTS }, () => new ServerChild(program, 'protofly', redis.url, key).ready()),
      )),
    );
    const port = (url: string) => Number(new URL(url).port);
    balancer = startBalancer(
      dir,
      hosts.map((h) => ({ messaging: port(h.url), admin: port(h.adminUrl) })),
      [await freePort(), await freePort()],
    );
    // Its runtime API answers once it runs.
    while (!(await balancerCommand(balancer, 'show info').catch(() => undefined))) await pause();
    const url = balancer.messagingUrl;
    const usage = async () => ({
      nodes: (await Promise.all(hosts.map((h) => h.cpu()))).reduce((a, b) => a + b, 0),
      redis: await redisUsage(info),
      haproxy: procCpuUs(balancer!.child.pid!),
    });
    const heaps = () => Promise.all(hosts.map((h) => h.heap()));

    const results: Result[] = [];
    let oneHost: { rate: number[]; connect: number } | undefined;
    for (let active = 1; active <= HOSTS; active++) {
      await inService(
        balancer,
        Array.from({ length: active }, (_, i) => i + 1),
      );
      const name = `${active} host${active > 1 ? 's' : ''} behind HAProxy, ${2 * pairs} clients`;
      const heapBefore = await heaps();
      const connecting = await usage();
      // Clients connect and authenticate 50 at a time, as a crowd arriving would.
      const t0 = performance.now();
      const paths: Path[] = [];
      for (let i = 0; i < pairs; i += 25) {
        paths.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(25, pairs - i) }, (_, j) =>
              barePair(
                { alice: url, bob: url },
                hello,
                async () => {},
                `user://b.example/a${i + j}`,
                `user://b.example/b${i + j}`,
              ),
            ),
          )),
        );
      }
      const connectPerSecond = (2 * pairs) / ((performance.now() - t0) / 1000);
      const connected = await usage();
      const heapAfter = await heaps();
      const heapKb = heapAfter.reduce((sum, h, i) => sum + h - heapBefore[i]!, 0) / (2 * pairs) / 1024;
      const all = fanOut(paths, async () => {});
      await throughput(all, n);
      const before = await usage();
      const rate: number[] = [];
      for (let r = 0; r < rounds; r++) rate.push(await throughput(all, n * 4));
      const after = await usage();
      await all.close();
      await allClosed(hosts);
      // Each round trip is two messages, the chat and its answer.
      const messages = 2 * rounds * n * 4;
      oneHost ??= { rate, connect: connectPerSecond };
      results.push(
        result(
          `${name}: round trips/s, ${WINDOW} in flight (baseline: 1 host)`,
          'round trips/s',
          rate,
          oneHost.rate,
        ),
        single(
          `${name}: connections made and authenticated/s`,
          'connections/s',
          connectPerSecond,
          oneHost.connect,
        ),
        single(`${name}: node heap per connection`, 'KB', heapKb),
        single(
          `${name}: node CPU per connection made and authenticated`,
          'µs',
          (connected.nodes - connecting.nodes) / (2 * pairs),
        ),
        single(
          `${name}: Redis commands per connection made and authenticated`,
          'commands',
          (connected.redis.commands - connecting.redis.commands) / (2 * pairs),
        ),
        single(`${name}: node CPU per message (all hosts)`, 'µs', (after.nodes - before.nodes) / messages),
        single(`${name}: Redis CPU per message`, 'µs', (after.redis.cpuUs - before.redis.cpuUs) / messages),
        single(
          `${name}: Redis commands per message`,
          'commands',
          (after.redis.commands - before.redis.commands) / messages,
        ),
        single(`${name}: HAProxy CPU per message`, 'µs', (after.haproxy - before.haproxy) / messages),
      );
    }

    // The cross-host round trip against one host's, through the balancer: each client lands on
    // the only host in service when it connects (barePair asks for Bob's hello, connects him, then Alice).
    const pairOn = (aliceHost: number, bobHost: number, tag: string) =>
      barePair(
        { alice: url, bob: url },
        async (address) => {
          await inService(balancer!, [address.includes('/bob-') ? bobHost : aliceHost]);
          return hello(address);
        },
        async () => {},
        `user://b.example/alice-${tag}`,
        `user://b.example/bob-${tag}`,
      );
    const cross = await pairOn(1, 2, 'cross');
    const same = await pairOn(1, 1, 'same');
    const [lat, baseLat] = [[] as number[], [] as number[]];
    await latencies(cross, n);
    await latencies(same, n);
    for (let r = 0; r < rounds; r++) {
      lat.push(...(await latencies(cross, n)));
      baseLat.push(...(await latencies(same, n)));
    }
    results.push(
      result('cross-host round trip through HAProxy, against both on one host (p50)', 'µs', lat, baseLat),
      single(
        'cross-host round trip through HAProxy, against both on one host (p99)',
        'µs',
        percentile(lat, 99),
        percentile(baseLat, 99),
      ),
    );
    await cross.close();
    await same.close();
    await allClosed(hosts);
    return results;
  } finally {
    if (balancer) {
      const exited = new Promise((resolve) => balancer!.child.once('exit', resolve));
      balancer.child.kill('SIGTERM');
      await exited;
    }
    for (const h of hosts) h.stop();
    info.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
