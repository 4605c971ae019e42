import type { Activate } from '../../../core/stub.js';
import { attemptAsync, type Outcomes, reportingStub } from '../report.js';

/** Attack: load Node modules with a dynamic import (a computed specifier, so no bundler sees it). */
const activate: Activate = async (ctx) => {
  const outcomes: Outcomes = {};
  for (const name of ['node:fs', 'node:child_process', 'node:net']) {
    await attemptAsync(outcomes, `import ${name}`, async () => typeof (await import(name)) === 'object');
  }
  return reportingStub(ctx, outcomes);
};

export default activate;
