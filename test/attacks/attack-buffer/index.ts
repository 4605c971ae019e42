import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute bomb`, allocates array buffers (memory outside the JS heap, which the
 * worker's heap limit does not count), 4 MiB every 5 ms, touching every page.
 */
const activate: Activate = (ctx) => {
  const hoard: Uint8Array[] = [];
  return reportingStub(ctx, {}, (method, msg) => {
    if (method !== 'bomb') return false;
    ctx.setInterval(() => hoard.push(new Uint8Array(4 * 1024 * 1024).fill(1)), 5);
    answer(ctx, msg, 200, 'allocating');
    return true;
  });
};

export default activate;
