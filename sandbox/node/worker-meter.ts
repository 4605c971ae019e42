// Installs the array-buffer meter (worker/buffers.ts) in the sandbox worker, before SES is
// imported: see worker-entry.ts, which imports this first.
import { meterArrayBuffers } from '../worker/buffers.js';
import { parent } from './parent.js';

meterArrayBuffers({
  limit: parent.arrayBufferBytes,
  measure: () => process.memoryUsage().arrayBuffers,
  over: (bytes, held) => parent.post({ t: 'memory', bytes, held }),
});
