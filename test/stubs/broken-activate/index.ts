import type { Activate } from '../../../core/stub.js';

/** Test stub: a broken release that throws in activate, whatever it is given. */
const activate: Activate = (ctx) => {
  throw new TypeError(
    `broken release: cannot read ${String(ctx.snapshot === undefined ? 'config' : 'snapshot')}`,
  );
};

export default activate;
