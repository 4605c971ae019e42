// The sandbox Web Worker (built to dist/browser-worker.js, a module worker the page starts from
// its own origin). As in the Node worker (sandbox/node/worker-entry.ts): SES first, `lockdown()`
// for this worker only, then the shared supervisor beneath the stubs. The page is never locked
// down. A browser worker has no heap limit and no array-buffer meter: what it can report is
// Chromium's `performance.memory`, where there is one.
import 'ses';
import { ProtoflyError } from '../../core/errors.js';
import type { HostFrame, WorkerFrame } from '../channel.js';
import { batched, each } from '../frame-batch.js';
import { evaluateInCompartment } from '../worker/compartment.js';
import { Supervisor } from '../worker/supervisor.js';

declare const lockdown: (options: Record<string, string>) => void;
declare const harden: <T>(value: T) => T;

/** The dedicated worker's global scope, as far as this file uses it. */
interface WorkerScope {
  postMessage(sent: WorkerFrame | WorkerFrame[]): void;
  addEventListener(type: 'message', listener: (event: { data: HostFrame | HostFrame[] }) => void): void;
  addEventListener(type: 'unhandledrejection', listener: () => void): void;
}
const scope = globalThis as unknown as WorkerScope;
/** Chromium's non-standard heap reading (absent in other browsers: heap 0 is reported). */
const heapOf = () =>
  (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;

lockdown({
  // The supervisor catches every stub exception itself and counts stray rejections for the host.
  errorTrapping: 'none',
  unhandledRejectionTrapping: 'none',
});
// Errors thrown into stubs are ProtoflyErrors: their class is shared by every stub here.
harden(ProtoflyError);

const supervisor = new Supervisor({
  post: batched<WorkerFrame>((sent) => scope.postMessage(sent)),
  evaluate: evaluateInCompartment,
  harden,
  memory: () => ({ heap: heapOf(), external: 0 }),
});
scope.addEventListener('unhandledrejection', () => supervisor.rejection());
const receive = each<HostFrame>((frame) => supervisor.receive(frame));
scope.addEventListener('message', (event) => receive(event.data));
