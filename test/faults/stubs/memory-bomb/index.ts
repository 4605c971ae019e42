import type { Activate } from '../../../../core/stub.js';
import jsonWs from '../../../../plugins/stubs/json-ws/index.js';

/**
 * json-ws, except that an instance taking over a conversation (a live swap) never goes live:
 * it fills the heap, 1 MiB of strings a millisecond, until the sandbox's memory limit
 * terminates its worker, and every instance in it (the old version's too).
 */
const activate: Activate = (ctx) => {
  if (ctx.snapshot === undefined) return jsonWs(ctx);
  ctx.status('connecting', 'filling the heap');
  const hoard: string[] = [];
  ctx.setInterval(() => {
    for (let i = 0; i < 1024; i++) hoard.push(`${'x'.repeat(1024)}${hoard.length}`);
  }, 1);
  return { postMessage() {}, stop() {} };
};

export default activate;
