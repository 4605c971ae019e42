// Installs the array-buffer meter (worker/buffers.ts) in the isolate before SES is imported, as
// the worker's worker-meter.ts does: isolated-vm's `memoryLimit` (with the headroom the host
// gives V8, see isolate-host.ts) is far above a package's `memoryMb`, so array buffers are
// charged where they are made. The host's callbacks are still on the global (isolate-entry.ts
// takes them away before lockdown).
import type { WorkerFrame } from '../channel.js';
import { meterArrayBuffers } from '../worker/buffers.js';

const host = (globalThis as unknown as { __protoflyHost: IsolateMeterHost }).__protoflyHost;

/** What the meter needs of the host's callbacks. */
interface IsolateMeterHost {
  /** The package's `memoryMb`, in bytes. */
  readonly arrayBufferBytes: number;
  /** Bytes of array buffers the isolate holds (isolated-vm's `externally_allocated_size`). */
  buffers(): number;
  post(json: string): void;
}

meterArrayBuffers({
  limit: host.arrayBufferBytes,
  measure: () => host.buffers(),
  // Posted at once, not batched: the host ends the isolate on it.
  over: (bytes, held) => host.post(JSON.stringify([{ t: 'memory', bytes, held } satisfies WorkerFrame])),
});
