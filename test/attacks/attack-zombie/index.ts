import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute zombie`, reports `failed` and goes on as if nothing happened, in the
 * same turn and from a timer: updates to the app, a `stopped` of its own, a log flood, a
 * socket. The host must take none of it once the stub has said `failed`.
 */
const activate: Activate = (ctx) =>
  reportingStub(ctx, {}, (method, msg) => {
    if (method !== 'zombie') return false;
    answer(ctx, msg, 200, 'zombie');
    const update = (value: string) =>
      ctx.send({ id: `z-${value}`, type: 'update', from: msg.to, to: msg.from, body: { value } });
    update('before');
    ctx.log.info('before');
    ctx.status('failed', 'by its own word');
    const after = (round: number) => {
      update(`after ${round}`);
      for (let i = 0; i < 100; i++) ctx.log.warn(`after ${round}`);
    };
    after(0);
    ctx.status('stopped', 'by its own word too');
    let round = 0;
    ctx.setInterval(() => after(++round), 1);
    return true;
  });

export default activate;
