import type { Activate } from '../../../core/stub.js';
import { reportingStub } from '../report.js';

/** Attack: throws while its package is being evaluated. */
const armed = Date.now() > 0;
if (armed) throw new Error('boom at load');

const activate: Activate = (ctx) => reportingStub(ctx, {});

export default activate;
