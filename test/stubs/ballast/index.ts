import type { Activate } from '../../../core/stub.js';
import jsonWs from '../../../plugins/stubs/json-ws/index.js';

/**
 * The json-ws stub with 16 MiB of ballast held by its module: each evaluation of a version
 * holds its own, so a test that measures a worker's heap sees whether an unloaded version's
 * compartment was released.
 */
const BALLAST = Array.from({ length: 2 * 1024 * 1024 }, (_, i) => i + 0.5);

const activate: Activate = (ctx) => {
  // Referenced, so that the bundle keeps it: the module holds it as long as it is evaluated.
  if (BALLAST.length === 0) throw new RangeError('no ballast');
  return jsonWs(ctx);
};

export default activate;
