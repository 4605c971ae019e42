import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startMessagingNode } from '../server/messaging-node/messaging-node.js';
import { testIdentity } from '../test/support/identity-fixtures.js';
import { heapAfterGc } from './harness.js';
import { startPlainHub } from './plain-hub.js';

/** Connections the load generator opens at a time, all from 127.0.0.1. */
const CONCURRENCY = 200;

/**
 * Drives a messaging node and, under the same load, the plain `ws` hub, with many clients held
 * by a load generator in another process (bench/load-clients.mjs).
 */

/** What the load generator measured, and the server's memory per client (heap after GC, this process). */
export interface Run {
  bytesPerConnection: number;
  connectMs: number;
  /** Deliveries due (a group message is due at every other member). */
  sent: number;
  received: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  readonly clients: number;
  /** Messages a second in all (pairs), or updates a second to the group (fanout). */
  readonly rate: number;
  readonly seconds: number;
  readonly mode: 'pairs' | 'fanout';
  readonly root: string;
}

const GROUP = 'domain://msg-node.b.example/group/bench';

async function drive(
  url: string,
  protocol: string | null,
  clients: { address: string; hello: object }[],
  o: LoadOptions,
  dir: string,
): Promise<Run> {
  const file = join(dir, `load-${protocol ?? 'hub'}.json`);
  const { rate, seconds, mode } = o;
  await writeFile(
    file,
    JSON.stringify({ url, protocol, clients, rate, seconds, mode, group: GROUP, concurrency: CONCURRENCY }),
  );
  const before = heapAfterGc();
  const child = fork(join(o.root, 'bench/load-clients.mjs'), [file], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    let run: Partial<Run> = {};
    child.on('error', reject);
    child.on(
      'message',
      (msg: { t: string; ms?: number; sent?: number; received?: number; p50?: number; p99?: number }) => {
        if (msg.t === 'connected') {
          run = { connectMs: msg.ms ?? 0, bytesPerConnection: (heapAfterGc() - before) / clients.length };
          child.send('go');
        } else if (msg.t === 'result') {
          resolve({
            ...(run as Run),
            sent: msg.sent ?? 0,
            received: msg.received ?? 0,
            p50: msg.p50 ?? 0,
            p99: msg.p99 ?? 0,
          });
        }
      },
    );
    // Settled already once it sent its result; any other end (a code, a signal) is a failure, not a wait.
    child.on('exit', (code, signal) =>
      reject(new Error(`load generator ended (${signal ?? code}) before its result`)),
    );
  });
}

/** The node under load, then the plain hub under the same load: [ours, baseline]. */
export async function nodeAgainstHub(o: LoadOptions): Promise<[Run, Run]> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-load-'));
  const identity = await testIdentity('b.example');
  const addresses = Array.from({ length: o.clients }, (_, i) => `user://b.example/u${i}`);
  const node = await startMessagingNode({
    domain: 'b.example',
    identity,
    maxConnections: o.clients + 100,
    // The load comes from one address, CONCURRENCY connections authenticating at a time: the
    // per-address bound on those (32 by default, against one attacker) is the load's here.
    maxPendingAuthPerAddress: CONCURRENCY,
    log: pino({ level: 'silent' }),
  });
  const clients = await Promise.all(
    addresses.map(async (address) => ({
      address,
      hello: { t: 'auth', token: await identity.issue(address, 3600) },
    })),
  );
  const ours = await drive(node.url, 'protofly.json-ws.v1', clients, o, dir);
  await node.close();
  const hub = await startPlainHub();
  const hello = addresses.map((address) => ({ address, hello: { t: 'hello', address } }));
  const base = await drive(hub.url, null, hello, o, dir);
  await hub.close();
  await rm(dir, { recursive: true, force: true });
  return [ours, base];
}
