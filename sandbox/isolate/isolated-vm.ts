import { createRequire } from 'node:module';
import { env, execArgv } from 'node:process';

/**
 * The part of `isolated-vm` the isolate host uses, typed here: it is an optional dependency
 * (no prebuilt binary below Node 24, so npm skips it there), and the types must not need it.
 */
export interface IsolatedVm {
  readonly Isolate: new (options: {
    memoryLimit: number;
    onCatastrophicError?: (message: string) => void;
  }) => Isolate;
  readonly Callback: new (fn: (...args: never[]) => unknown) => object;
}

export interface Isolate {
  readonly isDisposed: boolean;
  createContextSync(): IsolateContext;
  compileScriptSync(
    code: string,
    options: { filename: string; cachedData?: object; produceCachedData?: boolean },
  ): { run: unknown; runSync(context: IsolateContext): unknown; cachedData?: object };
  getHeapStatisticsSync(): { used_heap_size: number; externally_allocated_size: number };
  dispose(): void;
}

export interface IsolateContext {
  evalClosureSync(code: string, args: readonly unknown[]): unknown;
  evalSync(code: string, options: { reference: true }): IsolateReference;
  evalSync(code: string): unknown;
}

export interface IsolateReference {
  applySync(receiver: undefined, args: readonly unknown[], options: { timeout: number }): unknown;
}

/** `isolated-vm`, or why this process cannot use it. */
export type IsolatedVmLoad =
  | { readonly ivm: IsolatedVm; readonly reason?: undefined }
  | { readonly ivm?: undefined; readonly reason: string };

let loaded: IsolatedVmLoad | undefined;

/**
 * Loads `isolated-vm` once. It is refused where it is absent or has no binary for this Node
 * (Node 20: npm skips it), and where Node runs with its startup snapshot: isolated-vm's
 * isolates and Node's (worker threads) then start from different snapshots in one process,
 * which V8 does not support and which crashes the process (isolated-vm's README, issue 420);
 * start Node with `--no-node-snapshot` (argument or NODE_OPTIONS).
 */
export function loadIsolatedVm(): IsolatedVmLoad {
  loaded ??= load();
  return loaded;
}

function load(): IsolatedVmLoad {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('isolated-vm');
  } catch {
    // First: where it is not installed, the flag below would not help.
    return {
      reason: `isolated-vm is not installed (an optional dependency, for Node ≥ 24; this is ${process.version})`,
    };
  }
  const flag = '--no-node-snapshot';
  if (!execArgv.includes(flag) && !(env.NODE_OPTIONS ?? '').split(/\s+/).includes(flag)) {
    return { reason: `Node runs with its startup snapshot: start it with ${flag} to use isolates` };
  }
  try {
    return { ivm: require('isolated-vm') as IsolatedVm };
  } catch (err) {
    return { reason: `isolated-vm does not load on Node ${process.version}: ${(err as Error).message}` };
  }
}
