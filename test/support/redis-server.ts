import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { freePort } from '../../node/free-port.js';
import {
  type RedisClusterServers,
  type RedisPlace,
  type RedisServer,
  startRedisCluster as startRedisClusterAt,
  startRedisServer,
  synced,
} from '../../server/redis-cluster.js';
import { eventually } from './conversation.js';

export type { RedisClusterServers, RedisServer };

/** Loopback: where the tests' redis-servers run unless in a network host (test/support/netns.ts). */
const LOOPBACK: RedisPlace = {
  address: '127.0.0.1',
  spawn: (command, args, options) => spawn(command, args, options),
  port: freePort,
};

/**
 * Starts redis-server on a free loopback port for a test, with `args` added to its command line.
 * A missing redis-server fails the test, with or without CI: cluster behaviour is only ever
 * checked against the real server, never skipped.
 */
export function startRedis(args: readonly string[] = []): Promise<RedisServer> {
  return startRedisServer(LOOPBACK, args);
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

/** A Redis Cluster of three masters with a replica each on loopback (server/redis-cluster.ts). */
export function startRedisCluster(): Promise<RedisClusterServers> {
  return startRedisClusterAt(LOOPBACK);
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
