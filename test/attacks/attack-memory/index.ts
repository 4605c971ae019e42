import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute bomb`, fills its JS heap, 1 MiB of strings every millisecond, between
 * which it stays responsive (so the heap limit, not the watchdog, has to stop it).
 */
const activate: Activate = (ctx) => {
  const hoard: string[] = [];
  return reportingStub(ctx, {}, (method, msg) => {
    if (method !== 'bomb') return false;
    ctx.setInterval(() => {
      for (let i = 0; i < 1024; i++) hoard.push(`${'x'.repeat(1024)}${hoard.length}`);
    }, 1);
    answer(ctx, msg, 200, 'allocating');
    return true;
  });
};

export default activate;
