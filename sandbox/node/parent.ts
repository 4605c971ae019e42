import { parentPort, workerData } from 'node:worker_threads';
import { ProtoflyError } from '../../core/errors.js';
import type { HostFrame, WorkerFrame } from '../channel.js';
import { batched, each } from '../frame-batch.js';

/**
 * The sandbox's side of its link to the host, whichever made it (sandbox/node/spawn.ts): a
 * worker thread talks over its `parentPort`, a child process over its IPC channel (`process.send`,
 * structured clones). One script, dist/sandbox-worker.js, runs as either.
 */
export interface Parent {
  post(frame: WorkerFrame): void;
  onFrame(receive: (frame: HostFrame) => void): void;
  /** The most bytes of array buffers the sandbox may hold (worker/buffers.ts). */
  readonly arrayBufferBytes: number;
  /** Full garbage collections (a child process, started with `--expose-gc`). */
  readonly collect?: () => void;
}

function connect(): Parent {
  if (parentPort) {
    const port = parentPort;
    return {
      post: batched<WorkerFrame>((sent) => port.postMessage(sent)),
      onFrame: (receive) => port.on('message', each(receive)),
      arrayBufferBytes: (workerData as { arrayBufferBytes: number }).arrayBufferBytes,
    };
  }
  const send = process.send?.bind(process);
  if (!send) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      'sandbox-worker.js runs as a sandbox host’s worker thread or child process, not as a program',
    );
  }
  // The host is gone (it exited, or cut the channel): so is the reason to run.
  process.on('disconnect', () => process.exit(0));
  // A global of the start compartment only (V8 makes it non-configurable): no stub's
  // compartment has it, so only the host's measure collects.
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    ...(gc ? { collect: () => gc() } : {}),
    post: batched<WorkerFrame>((sent) => send(sent)),
    onFrame: (receive) => process.on('message', each(receive)),
    arrayBufferBytes: Number(process.argv[2]),
  };
}

export const parent: Parent = connect();
