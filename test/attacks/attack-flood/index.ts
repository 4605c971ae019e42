import type { Activate } from '../../../core/stub.js';
import { answer } from '../report.js';

/**
 * Attack: on `execute flood`, sends 100 000 updates to the requester as fast as it can, in one
 * turn, then logs `flood over`; `execute report` tells how many ctx.send took and how many it refused.
 * The log line and the answer go once the window toward the runtime has room again, as the
 * contract asks of a refused send.
 */
const activate: Activate = (ctx) => {
  const counts = { accepted: 0, refused: 0, other: 0 };
  const flood = (to: string, from: string) => {
    for (let i = 0; i < 100_000; i++) {
      try {
        ctx.send({ id: `f${i}`, type: 'update', from, to, body: { value: { i } } });
        counts.accepted += 1;
      } catch (err) {
        if ((err as { code?: string }).code === 'PF_ERR_FLOOD') counts.refused += 1;
        else counts.other += 1;
      }
    }
    whenRoom(() => ctx.log.info('flood over', counts));
  };
  /** Does `act` once the window toward the runtime has room: a refused one is tried again later. */
  const whenRoom = (act: () => void): void => {
    try {
      act();
    } catch (err) {
      if ((err as { code?: string }).code !== 'PF_ERR_FLOOD') throw err;
      ctx.setTimeout(() => whenRoom(act), 10);
    }
  };
  ctx.status('live');
  return {
    postMessage(msg) {
      if (msg.type !== 'execute') return;
      if (msg.body.method === 'report') return whenRoom(() => answer(ctx, msg, 200, counts));
      answer(ctx, msg, 200, 'flooding');
      ctx.setTimeout(() => flood(msg.from, msg.to), 0);
    },
    stop() {},
  };
};

export default activate;
