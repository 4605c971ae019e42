import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { afterAll } from 'vitest';
import { freePort } from './ports.js';

/** A real redis-server on a free loopback port, in the foreground, with no persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops it (SIGTERM to its PID) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * Starts redis-server for a test. A missing redis-server fails the test, with or without CI:
 * cluster behaviour is only ever checked against the real server, never skipped.
 */
export async function startRedis(): Promise<RedisServer> {
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
      child = await launch(port);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
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
  let started: Promise<RedisServer> | undefined;
  afterAll(async () => {
    await (await started?.catch(() => undefined))?.stop();
  });
  return () => {
    started ??= startRedis();
    return started;
  };
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
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
