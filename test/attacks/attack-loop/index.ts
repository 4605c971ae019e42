import type { Activate } from '../../../core/stub.js';
import { reportingStub } from '../report.js';

/** Attack: goes live, then spins forever on `execute spin`, holding its worker's thread. */
const activate: Activate = (ctx) =>
  reportingStub(ctx, {}, (method) => {
    if (method !== 'spin') return false;
    for (;;) {
      // busy
    }
  });

export default activate;
