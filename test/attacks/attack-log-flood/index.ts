import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/** Attack: on `execute flood`, writes 100 000 log lines in one turn; `execute once` writes one more. */
const activate: Activate = (ctx) =>
  reportingStub(ctx, {}, (method, msg) => {
    if (method === 'flood') for (let i = 0; i < 100_000; i++) ctx.log.info(`spam ${i}`, { i });
    else if (method === 'once') ctx.log.warn('after the flood');
    else return false;
    answer(ctx, msg, 200, method);
    return true;
  });

export default activate;
