// The sandbox, a worker thread or a child process (built to dist/sandbox-worker.js). SES comes
// first but for the array-buffer meter, whose allocators SES must find in place of the native
// ones (its shims capture them at import): it captures the intrinsics before anything else
// runs, and `lockdown()` then freezes them for this sandbox only. The host process is never
// locked down (the server's tsyringe needs its Reflect).
import './worker-meter.js';
import 'ses';
import { ProtoflyError } from '../../core/errors.js';
import { evaluateInCompartment } from '../worker/compartment.js';
import { Supervisor } from '../worker/supervisor.js';
import { parent } from './parent.js';

declare const lockdown: (options: Record<string, string>) => void;
declare const harden: <T>(value: T) => T;

lockdown({
  // The supervisor catches every stub exception itself and counts stray rejections for the host.
  errorTrapping: 'none',
  unhandledRejectionTrapping: 'none',
});
// Errors thrown into stubs are ProtoflyErrors: their class is shared by every stub here.
harden(ProtoflyError);

const supervisor = new Supervisor({
  post: (frame) => parent.post(frame),
  evaluate: evaluateInCompartment,
  harden,
  memory: () => {
    const { heapUsed, external } = process.memoryUsage();
    return { heap: heapUsed, external };
  },
  ...(parent.collect ? { collect: parent.collect } : {}),
});
process.on('unhandledRejection', () => supervisor.rejection());
parent.onFrame((frame) => supervisor.receive(frame));
