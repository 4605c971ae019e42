import type { Activate } from '../../../core/stub.js';

/** Test stub: a release that activates and says it is connecting, and never gets further. */
const activate: Activate = (ctx) => {
  ctx.status('connecting', 'forever');
  return { postMessage() {}, stop() {} };
};

export default activate;
