import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { VersionEvent } from '../runtime/runtime.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { startLocalDomains } from '../server/domain.js';
import { releaseStub } from '../server/release.js';
import { type BenchOptions, percentile, type Result, result } from './harness.js';

/**
 * The pause a conversation sees during a live swap. Alice's runtime follows b.example `live`;
 * Bob's is pinned, so one end swaps. Alice sends a chat every millisecond and Bob's app answers
 * each; every round releases a new version of b.example's json-ws stub, which Alice's runtime
 * learns of (update notice), verifies and swaps to while the chats go on.
 *
 * A chat "sent during a swap" is one sent between the runtime's update event (the swap starts
 * right after it) and the swap's version event. Its extra latency is its round trip minus the
 * median round trip of the chats sent outside any swap, in the same run. The hold is how long
 * the swap held outbound messages (snapshot to new version live and released).
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const SEND_EVERY_MS = 1;

export default async function swapBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 3 : 20;
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-swap-'));
  const domains = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map(),
    log: pino({ level: 'silent' }),
    limits: { messagesPerSecond: 1_000_000 },
  });
  const host = new NodeWorkerHost({ policy: developmentPolicy, idleMs: 600_000 });
  const runtime = (address: string, live: boolean): NodeRuntime => {
    const home = domains.byName.get(address.split('/')[2]!)!;
    return createNodeRuntime({
      policy: developmentPolicy,
      identity: { address, token: (aud) => home.identity.issue(address, 3600, aud) },
      catalogues: domains.peers,
      host,
      // Each run makes new domain keys: nothing to keep.
      dataDir: false,
      updates: { 'b.example': live ? 'live' : 'pin' },
    });
  };
  const bob = runtime(BOB, false);
  await bob.runtime.register();
  const alice = runtime(ALICE, true);
  const withBob = await alice.runtime.conversation(BOB);
  await withBob.send('warm-up');

  // Chats, with when they were sent and their round trips; `during` marks a swap under way.
  let during = false;
  const inSwap: number[] = [];
  const outside: number[] = [];
  const holds: number[] = [];
  let failed = 0;
  const sender = setInterval(() => {
    const swapping = during;
    const t0 = performance.now();
    withBob.send('chat').then(
      () => (swapping ? inSwap : outside).push(performance.now() - t0),
      () => failed++,
    );
  }, SEND_EVERY_MS);

  const b = domains.byName.get('b.example')!;
  const pluginDir = join(root, 'plugins/stubs/json-ws');
  for (let r = 0; r < rounds; r++) {
    // Some quiet sending between swaps, for the baseline.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const swapped = new Promise<VersionEvent>((resolve) => {
      const offUpdate = alice.runtime.on('update', () => {
        offUpdate();
        during = true;
      });
      const offVersion = alice.runtime.on('version', (e) => {
        if (e.change === 'start') return;
        offVersion();
        during = false;
        resolve(e);
      });
    });
    await releaseStub(b, { pluginDir, version: `0.${r + 2}.0` });
    const event = await swapped;
    if (event.change !== 'swap') throw new Error(`round ${r}: ${event.error?.message ?? event.change}`);
    holds.push(event.heldMs ?? 0);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  clearInterval(sender);
  // Let the last chats come back.
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (failed > 0) throw new Error(`${failed} chats failed during the swap benchmark`);

  await alice.close();
  await bob.close();
  await host.terminate();
  await domains.close();
  await rm(dir, { recursive: true, force: true });

  const base = percentile(outside, 50);
  return [
    result(
      `swap: round trip of a chat sent during a live swap (${inSwap.length} chats, ${rounds} swaps)`,
      'ms',
      inSwap,
      outside,
    ),
    result(
      'swap: extra latency of a chat sent during a live swap',
      'ms',
      inSwap.map((ms) => Math.max(0, ms - base)),
    ),
    result('swap: outbound hold (snapshot to new version live)', 'ms', holds),
  ];
}
