// Installs the array-buffer meter (worker/buffers.ts) in the sandbox worker, before SES is
// imported: see worker-entry.ts, which imports this first.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerFrame } from '../channel.js';
import { meterArrayBuffers } from '../worker/buffers.js';

meterArrayBuffers({
  limit: (workerData as { arrayBufferBytes: number }).arrayBufferBytes,
  measure: () => process.memoryUsage().arrayBuffers,
  over: (bytes, held) => parentPort?.postMessage({ t: 'memory', bytes, held } satisfies WorkerFrame),
});
