import { consoleLogger } from '../defaults.js';
import type { SandboxHost } from '../host.js';
import { NodeWorkerHost, type NodeWorkerHostOptions } from '../node/worker-host.js';
import { IsolateHost } from './isolate-host.js';
import { loadIsolatedVm } from './isolated-vm.js';

/**
 * The Node hosts a runtime can be given: worker threads, or same-thread isolates (the default
 * where they run: Node ≥ 24 with `isolated-vm`, started with `--no-node-snapshot`).
 */
export type NodeHostKind = 'worker' | 'isolate';

/** A host made by {@link createNodeHost}, and which kind it is. */
export interface NodeHostChoice {
  readonly host: SandboxHost;
  /** The kind that runs the stubs: the one asked for, or `worker` where isolates cannot run. */
  readonly kind: NodeHostKind;
  /** Why isolates do not run the stubs, when they were asked for, or were the default, and do not. */
  readonly fallback?: string;
}

/**
 * Makes the host of `kind`, or by default the isolate host where it runs and the worker host
 * elsewhere. Isolates need `isolated-vm` (an optional dependency, Node ≥ 24,
 * `--no-node-snapshot`: see isolated-vm.ts); where it cannot run, the worker host runs the
 * stubs instead, and the choice says why (the log too: a warning when isolates were asked
 * for, a debug line when they were only the default).
 */
export function createNodeHost(kind?: NodeHostKind, options: NodeWorkerHostOptions = {}): NodeHostChoice {
  if (kind === 'worker') return { host: new NodeWorkerHost(options), kind };
  const { ivm, reason } = loadIsolatedVm();
  if (ivm) return { host: new IsolateHost(ivm, options), kind: 'isolate' };
  const fallback = `isolate host unavailable, stubs run in worker threads: ${reason}`;
  const log = options.log ?? consoleLogger;
  if (kind === 'isolate') log.warn({ asked: kind, running: 'worker' }, fallback);
  else log.debug({ running: 'worker' }, fallback);
  return { host: new NodeWorkerHost(options), kind: 'worker', fallback };
}
