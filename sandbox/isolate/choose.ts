import { consoleLogger } from '../defaults.js';
import type { SandboxHost } from '../host.js';
import { NodeWorkerHost, type NodeWorkerHostOptions } from '../node/worker-host.js';
import { IsolateHost } from './isolate-host.js';
import { loadIsolatedVm } from './isolated-vm.js';

/**
 * The Node hosts a runtime can be given, asked for by name: worker threads (the default), a
 * child process per sandbox (the worker host's `process` isolation: what V8 treats as fatal
 * ends that process only), or same-thread isolates (Node ≥ 24 with `isolated-vm`, started
 * with `--no-node-snapshot`).
 */
export type NodeHostKind = 'worker' | 'process' | 'isolate';

/** Every {@link NodeHostKind}, the default first. */
export const NODE_HOST_KINDS: readonly NodeHostKind[] = ['worker', 'process', 'isolate'];

/** A host made by {@link createNodeHost}, and which kind it is. */
export interface NodeHostChoice {
  readonly host: SandboxHost;
  /** The kind that runs the stubs: the one asked for, or `worker` where isolates cannot run. */
  readonly kind: NodeHostKind;
  /** Why isolates do not run the stubs, when they were asked for and do not. */
  readonly fallback?: string;
}

/**
 * Makes the host of `kind`, by default the worker host. The isolate host is not the default: a
 * stub can end the whole process under it (isolated-vm 7 on Node 24 segfaults when a call's
 * time limit ends a long builtin, such as filling a sparse array of 50 million elements, and
 * when a call grows the heap past its limit; see SECURITY.md), where the worker host ends only
 * that stub's worker. Isolates need `isolated-vm` (an optional dependency, Node ≥ 24,
 * `--no-node-snapshot`: see isolated-vm.ts); where it cannot run, the worker host runs the
 * stubs instead, and the choice says why (and the log warns).
 */
export function createNodeHost(
  kind: NodeHostKind = 'worker',
  options: NodeWorkerHostOptions = {},
): NodeHostChoice {
  if (kind === 'worker') return { host: new NodeWorkerHost(options), kind };
  if (kind === 'process') return { host: new NodeWorkerHost({ ...options, isolation: 'process' }), kind };
  const { ivm, reason } = loadIsolatedVm();
  if (ivm) return { host: new IsolateHost(ivm, options), kind: 'isolate' };
  const fallback = `isolate host unavailable, stubs run in worker threads: ${reason}`;
  (options.log ?? consoleLogger).warn({ asked: kind, running: 'worker' }, fallback);
  return { host: new NodeWorkerHost(options), kind: 'worker', fallback };
}
