import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ProtoflyError } from '../core/errors.js';

/**
 * Real redis-servers and Redis Clusters, started for the tests and for `protofly demo --cluster`:
 * on loopback, or inside a network host (server/netns.ts), wherever a {@link RedisPlace} says.
 */

/** Where redis-servers run: an address to bind, a way to start a process there, free ports. */
export interface RedisPlace {
  readonly address: string;
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** A port free at `address`. */
  port(): Promise<number>;
}

/** A redis-server in the foreground, with no persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops it (SIGTERM to its PID, or `signal`) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/** The Debian packages of redis-server and redis-cli. */
export const REDIS_INSTALL = 'apt-get install -y redis-server';

/** @throws ProtoflyError `PF_ERR_CONFIG` saying how to install redis-server when it is missing. */
export function requireRedis(): void {
  if (!spawnSync('redis-server', ['--version']).error) return;
  throw new ProtoflyError(
    'PF_ERR_CONFIG',
    `redis-server is not installed: ${REDIS_INSTALL} (CI installs it in .ci/run)`,
  );
}

/** Starts redis-server at `place`, with `args` added to its command line. */
export async function startRedisServer(
  place: RedisPlace,
  args: readonly string[] = [],
): Promise<RedisServer> {
  requireRedis();
  const port = await place.port();
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://${place.address}:${port}`,
    get pid() {
      return child?.pid ?? 0;
    },
    async start() {
      child = await launch(place, port, args);
    },
    async stop(signal = 'SIGTERM') {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill(signal);
      await exited;
    },
  };
  await server.start();
  return server;
}

function launch(place: RedisPlace, port: number, args: readonly string[]): Promise<ChildProcess> {
  // Bound to loopback or to a host of a private network (server/netns.ts), without a password:
  // protected mode would refuse the other hosts.
  const child = place.spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', place.address, '--protected-mode', 'no'],
      ...['--save', '', '--appendonly', 'no', ...args],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code} on port ${port}: ${out}`)));
    child.once('error', reject);
  });
}

/** Milliseconds a cluster node goes unanswered before the others count it failed (and its replica takes over). */
const NODE_TIMEOUT_MS = 1000;
/** How long a Redis Cluster may take to be whole: a bound for a loaded machine, not a measure. */
const WHOLE_MS = 30_000;

/** A Redis Cluster of three masters with one replica each. */
export interface RedisClusterServers {
  /** Every node's redis:// URL: the seeds a client is given. */
  readonly seeds: readonly string[];
  readonly servers: readonly RedisServer[];
  /** The server that is master of the slot of `key` (a key or a sharded channel) now. */
  masterOf(key: string): Promise<RedisServer>;
  /**
   * Resolves once the cluster is whole again without `failed`: every slot served (cluster_state
   * ok on every node still running) by a master other than `failed`.
   */
  failedOver(failed: RedisServer): Promise<void>;
  /** Stops every node and removes their files. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster at `place`: six `redis-server --cluster-enabled yes`, joined by
 * `redis-cli --cluster create --cluster-replicas 1` (run from this process's host), and returned
 * once every node says the cluster is ok with all 16384 slots served.
 */
export async function startRedisCluster(place: RedisPlace): Promise<RedisClusterServers> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      servers.push(
        await startRedisServer(place, [
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${i}.conf`,
          '--cluster-port',
          String(await place.port()),
          '--cluster-node-timeout',
          String(NODE_TIMEOUT_MS),
          // A replica's first sync starts at once, not after the default 5 s wait for others.
          '--repl-diskless-sync-delay',
          '0',
        ]),
      );
    }
    await create(place.address, servers);
    // Whole, and each replica synced: a replica that never had its master's data refuses to
    // take over from it for ever ("Disconnected from master for longer than allowed": its data
    // age counts from never), so a master killed before would stay failed.
    await until(
      async () =>
        (await Promise.all(servers.map(async (s) => (await whole(s)) && (await synced(s))))).every(Boolean),
      'the new Redis Cluster ok, its replicas synced',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const running = () => servers.filter((s) => s.pid);
  return {
    seeds: servers.map((s) => s.url),
    servers,
    async masterOf(key) {
      const port = await ask(running()[0]!, async (r) => {
        const slot = (await r.cluster('KEYSLOT', key)) as number;
        const ranges = await r.cluster('SLOTS');
        return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      });
      return servers.find((s) => s.port === port)!;
    },
    async failedOver(failed) {
      const others = running().filter((s) => s !== failed);
      await until(async () => {
        if (!(await Promise.all(others.map(whole))).every(Boolean)) return false;
        const ranges = await ask(others[0]!, (r) => r.cluster('SLOTS'));
        return !ranges.some((range) => range[2]?.[1] === failed.port);
      }, `the Redis Cluster ok without the master on port ${failed.port}`);
    },
    stop,
  };
}

/** Polls `check` until it holds, for at most {@link WHOLE_MS}. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + WHOLE_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not within ${WHOLE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `redis-cli --cluster create` over `servers`, three masters and a replica of each. */
function create(address: string, servers: readonly RedisServer[]): Promise<void> {
  const child = spawn(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...servers.map((s) => `${address}:${s.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited ${code}: ${out}`)),
    );
  });
}

/** Runs `use` on a short-lived connection to `server`. */
async function ask<T>(server: RedisServer, use: (r: Redis) => Promise<T>): Promise<T> {
  const { hostname, port } = new URL(server.url);
  const r = new Redis(Number(port), hostname, { lazyConnect: true, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await use(r);
  } finally {
    r.disconnect();
  }
}

/**
 * Whether `server` is a master with a replica online, or a replica whose link to its master is
 * up: their first sync is done (`INFO replication`).
 */
export async function synced(server: RedisServer): Promise<boolean> {
  const info = await ask(server, (r) => r.info('replication')).catch(() => '');
  return info.includes('role:master\r\n')
    ? /^slave0:.*state=online/m.test(info)
    : info.includes('master_link_status:up\r\n');
}

/** Whether `server` says its cluster is ok with every slot served (`CLUSTER INFO`); false when it does not answer. */
async function whole(server: RedisServer): Promise<boolean> {
  const info = await ask(server, (r) => r.cluster('INFO') as Promise<string>).catch(() => '');
  return info.includes('cluster_state:ok\r\n') && info.includes('cluster_slots_ok:16384\r\n');
}
