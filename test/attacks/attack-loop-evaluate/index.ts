import type { Activate } from '../../../core/stub.js';
import { reportingStub } from '../report.js';

/** Attack: spins forever while its package is being evaluated, before any conversation exists. */
let spins = 0;
while (spins >= 0) spins += 1;

const activate: Activate = (ctx) => reportingStub(ctx, { spins: String(spins) });

export default activate;
