import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNodeRuntime } from '../entry/node-runtime.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { MeasuredHost } from '../sandbox/host.js';
import { IsolateHost } from '../sandbox/isolate/isolate-host.js';
import { loadIsolatedVm } from '../sandbox/isolate/isolated-vm.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { startLocalDomains } from '../server/domain.js';
import { type BenchOptions, heapAfterGc, type Result, result } from './harness.js';

/**
 * Many concurrent conversations in one runtime on one loaded stub (b.example's json-ws, all
 * instances sharing one socket): the time to open one, and the memory each costs, in the
 * runtime's process (heap after GC) and in the sandbox (its heap and array buffers after GC,
 * from the host's `measure()`), together. For the worker host and, where isolated-vm loads
 * (Node ≥ 24, `--no-node-snapshot`), the isolate host, one after the other in the same run.
 */
export default async function conversationsBench({ quick }: BenchOptions): Promise<Result[]> {
  const n = quick ? 1000 : 10_000;
  // The sandbox's heap limit must hold every instance. A worker's heartbeat, or one call into
  // an isolate, may wait behind a full collection of that heap on a busy machine: this
  // measures capacity, not containment.
  const limits = { policy: developmentPolicy, memoryMb: 512, watchdogMs: 15_000 };
  const results = await conversations('conversations', n, new NodeWorkerHost({ ...limits, idleMs: 600_000 }));
  const { ivm, reason } = loadIsolatedVm();
  if (!ivm) process.stderr.write(`  (no isolate host rows: ${reason})\n`);
  else
    results.push(...(await conversations('conversations (isolate host)', n, new IsolateHost(ivm, limits))));
  return results;
}

/** Opens `n` conversations on `host`, in a runtime of their own, against fresh domains. */
async function conversations(prefix: string, n: number, host: MeasuredHost): Promise<Result[]> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-conv-'));
  const domains = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map(),
    log: pino({ level: 'silent' }),
  });
  const home = domains.byName.get('a.example')!;
  const alice = createNodeRuntime({
    policy: developmentPolicy,
    identity: {
      address: 'user://a.example/alice',
      token: (aud) => home.identity.issue('user://a.example/alice', 3600, aud),
    },
    catalogues: domains.peers,
    host,
    // Each run makes new domain keys: nothing to keep.
    dataDir: false,
  });
  // Load and evaluate the package, and open the shared socket, before measuring.
  await alice.runtime.conversation('user://b.example/warm-up');
  const sandboxBytes = async () => (await host.measure()).reduce((sum, s) => sum + s.heap + s.external, 0);
  const before = heapAfterGc() + (await sandboxBytes());
  const opening: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await alice.runtime.conversation(`user://b.example/peer-${i}`);
    opening.push(performance.now() - t0);
  }
  const perConversation = (heapAfterGc() + (await sandboxBytes()) - before) / n;
  const open = alice.runtime.conversations.size - 1;
  await alice.close();
  await host.terminate();
  await domains.close();
  await rm(dir, { recursive: true, force: true });
  return [
    result(`${prefix}: open one more (of ${open} on one stub)`, 'ms', opening),
    {
      name: `${prefix}: memory per conversation (${open} open)`,
      unit: 'KB',
      median: perConversation / 1024,
      p99: perConversation / 1024,
    },
  ];
}
