import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { eventually } from './conversation.js';
import { freePort } from './ports.js';

/** A real redis-server on a free loopback port, in the foreground, with no persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops it (SIGTERM to its PID, or `signal`) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * Starts redis-server for a test, with `args` added to its command line. A missing
 * redis-server fails the test, with or without CI: cluster behaviour is only ever checked
 * against the real server, never skipped.
 */
export async function startRedis(args: readonly string[] = []): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'redis-server is not installed: apt-get install -y redis-server (CI installs it in .ci/run)',
    );
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? 0;
    },
    async start() {
      child = await launch(port, args);
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

/**
 * A redis-server for the tests of one file, started by the first test that asks for it (so a
 * missing redis-server fails each test that needs it, and only those), stopped after them.
 * Call at the file's top level.
 */
export function redisOnDemand(): () => Promise<RedisServer> {
  return onDemand(() => startRedis());
}

/** A Redis Cluster ({@link startRedisCluster}) for the tests of one file, as {@link redisOnDemand}. */
export function redisClusterOnDemand(): () => Promise<RedisClusterServers> {
  return onDemand(startRedisCluster);
}

function onDemand<T extends { stop(): Promise<void> }>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  afterAll(async () => {
    await (await started?.catch(() => undefined))?.stop();
  });
  return () => {
    started ??= start();
    return started;
  };
}

function launch(port: number, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
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

/**
 * A redis-server replicating `master`, returned once its first sync is done. Its sync file
 * goes in a directory of its own, removed when it stops.
 */
export async function startReplica(master: RedisServer): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-redis-replica-'));
  const started = await startRedis(['--dir', dir, '--replicaof', '127.0.0.1', String(master.port)]);
  const replica: RedisServer = {
    ...started,
    get pid() {
      return started.pid;
    },
    start: () => started.start(),
    async stop(signal) {
      await started.stop(signal);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await eventually(() => synced(replica), `the replica of port ${master.port} synced`, 30_000).catch(
    async (err) => {
      await replica.stop();
      throw err;
    },
  );
  return replica;
}

/** Milliseconds a cluster node goes unanswered before the others count it failed (and its replica takes over). */
const NODE_TIMEOUT_MS = 1000;

/** A Redis Cluster of three masters with one replica each, on loopback. */
export interface RedisClusterServers {
  /** Every node's redis:// URL: the seeds a client is given. */
  readonly seeds: readonly string[];
  readonly servers: readonly RedisServer[];
  /** The server that is master of the slot of `key` (a key or a sharded channel) now. */
  masterOf(key: string): Promise<RedisServer>;
  /**
   * Resolves once the cluster says it is whole again without `failed`: every slot served
   * (cluster_state ok on every node still running) by a master other than `failed`.
   */
  failedOver(failed: RedisServer): Promise<void>;
  /** Stops every node and removes their files. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster for a test: six `redis-server --cluster-enabled yes` on free loopback
 * ports, joined by `redis-cli --cluster create --cluster-replicas 1`, and returned once every
 * node says the cluster is ok with all 16384 slots served.
 */
export async function startRedisCluster(): Promise<RedisClusterServers> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      servers.push(
        await startRedis([
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${i}.conf`,
          '--cluster-port',
          String(await freePort()),
          '--cluster-node-timeout',
          String(NODE_TIMEOUT_MS),
          // A replica's first sync starts at once, not after the default 5 s wait for others.
          '--repl-diskless-sync-delay',
          '0',
        ]),
      );
    }
    await create(servers);
    // Whole, and each replica synced: a replica that never had its master's data refuses to
    // take over from it for ever ("Disconnected from master for longer than allowed": its
    // data age counts from never), so a master killed before would stay failed.
    await eventually(
      async () =>
        (await Promise.all(servers.map(async (s) => (await whole(s)) && (await synced(s))))).every(Boolean),
      'the new Redis Cluster ok, its replicas synced',
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    seeds: servers.map((s) => s.url),
    servers,
    async masterOf(key) {
      const port = await ask(servers.find((s) => s.pid)!, async (r) => {
        const slot = (await r.cluster('KEYSLOT', key)) as number;
        const ranges = await r.cluster('SLOTS');
        return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      });
      return servers.find((s) => s.port === port)!;
    },
    async failedOver(failed) {
      const running = servers.filter((s) => s.pid && s !== failed);
      await eventually(
        async () => {
          if (!(await Promise.all(running.map(whole))).every(Boolean)) return false;
          const ranges = await ask(running[0]!, (r) => r.cluster('SLOTS'));
          return !ranges.some((range) => range[2]?.[1] === failed.port);
        },
        `the Redis Cluster ok without the master on port ${failed.port}`,
        30_000,
      );
    },
    stop,
  };
}

/** `redis-cli --cluster create` over `servers`, three masters and a replica of each. */
function create(servers: readonly RedisServer[]): Promise<void> {
  const child = spawn(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
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
  const r = new Redis(server.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
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
async function synced(server: RedisServer): Promise<boolean> {
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
