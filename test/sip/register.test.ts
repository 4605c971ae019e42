import { describe, expect, it } from 'vitest';
import type { ProtoflyError } from '../../core/errors.js';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import {
  nextConversation,
  nextMessage,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

/**
 * `runtime.register()` through a real Kamailio (issue #17, item 1): it resolves once the stub is
 * registered, the registrar's 200 listing its binding, so a SIP user may write at once; and a
 * refused password rejects it with the stub's own code, naming the refused REGISTER.
 */

const CAROL = 'user://c.example/carol';

let world: SipWorld;
let host: NodeWorkerHost;
sipWorldForFile(
  () => startSipWorld({ carol: 'carol-pw', dave: 'dave-pw' }),
  (w, h) => {
    world = w;
    host = h;
  },
);

/** How many REGISTERs with credentials Kamailio refused for `user` (its cfg counts them). */
async function refusedRegisters(user: string): Promise<number> {
  const got = (await world.kamailio
    .rpc('htable.get', ['counters', `refused::${user}`])
    .catch(() => undefined)) as { item: { value: number } } | undefined;
  return got?.item.value ?? 0;
}

describe('runtime.register() with sip-ws', () => {
  it('resolves once Kamailio has the binding: a MESSAGE a SIP user sends at once is delivered, not 480', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const arriving = nextConversation(carol);
    await carol.runtime.register();
    // No wait of any kind between the two: resolved means reachable.
    expect(await dave.send('sip:carol@c.example', 'right after register()')).toBe(200);
    const withDave = await arriving;
    expect(withDave.peer).toBe('user://c.example/dave');
    expect((await nextMessage(withDave)).body).toEqual({ kind: 'chat', text: 'right after register()' });
  });

  it('rejects with PF_ERR_AUTH naming the refused REGISTER for a wrong password: no error event, no retry', async () => {
    const carol = world.runtime(CAROL, { host, password: 'not-carols' });
    const events: string[] = [];
    carol.runtime.on('error', (err) => events.push(`error ${err.code}`));
    carol.runtime.on('inbox', (e) => events.push(`inbox ${e.state}`));
    const before = await refusedRegisters('carol');
    const err = (await carol.runtime.register().then(
      () => undefined,
      (e: unknown) => e,
    )) as ProtoflyError | undefined;
    expect(err).toMatchObject({ code: 'PF_ERR_AUTH' });
    // One code, in front, then the stub and what was refused.
    expect(err!.message).toMatch(
      /^PF_ERR_AUTH: stub c\.example\/sip-ws@[^:]+: REGISTER of sip:carol@c\.example refused with 401 [^:]*: wrong password/,
    );
    expect(err!.message.match(/PF_ERR_AUTH/g)).toHaveLength(1);
    // The failure was the caller's: not told again, and not retried (one refused REGISTER).
    expect(events).toEqual([]);
    expect(await refusedRegisters('carol')).toBe(before + 1);
    // Asked again, it tries again, once, and is refused again.
    await expect(carol.runtime.register()).rejects.toMatchObject({ code: 'PF_ERR_AUTH' });
    expect(await refusedRegisters('carol')).toBe(before + 2);
    expect(events).toEqual([]);
  });
});
