import { consoleLogger } from '../defaults.js';
import type { SandboxHost } from '../host.js';
import { NodeWorkerHost, type NodeWorkerHostOptions } from '../node/worker-host.js';
import { IsolateHost } from './isolate-host.js';
import { loadIsolatedVm } from './isolated-vm.js';

/** The Node hosts a runtime can be given: worker threads (the default), or same-thread isolates. */
export type NodeHostKind = 'worker' | 'isolate';

/** A host made by {@link createNodeHost}, and which kind it is. */
export interface NodeHostChoice {
  readonly host: SandboxHost;
  /** The kind that runs the stubs: the one asked for, or `worker` where isolates cannot run. */
  readonly kind: NodeHostKind;
  /** Why the kind asked for is not the one running, when it is not. */
  readonly fallback?: string;
}

/**
 * Makes the host of `kind`. Isolates need `isolated-vm` (an optional dependency, Node ≥ 24,
 * `--no-node-snapshot`: see isolated-vm.ts); where it cannot run, the worker host runs the
 * stubs instead, and the choice says why (and the log, once).
 */
export function createNodeHost(kind: NodeHostKind, options: NodeWorkerHostOptions = {}): NodeHostChoice {
  if (kind === 'worker') return { host: new NodeWorkerHost(options), kind };
  const { ivm, reason } = loadIsolatedVm();
  if (ivm) return { host: new IsolateHost(ivm, options), kind };
  const fallback = `isolate host unavailable, stubs run in worker threads: ${reason}`;
  (options.log ?? consoleLogger).warn({ asked: kind, running: 'worker' }, fallback);
  return { host: new NodeWorkerHost(options), kind: 'worker', fallback };
}
