import { afterEach, expect, it } from 'vitest';
import { DirectContext, DirectSession } from '../../../../entry/stub-testing.js';
import {
  CAROL,
  DAVE,
  type ScriptedSipServer,
  scriptedSipServer,
} from '../../../../test/support/scripted-sip.js';
import activate from '../index.js';

/** Registered means reachable (core/stub.ts, `live`): the registrar's 200 must list the stub's binding. */

let server: ScriptedSipServer | undefined;
let end: (() => Promise<void>) | undefined;
afterEach(async () => {
  await end?.();
  await server?.close();
});

it('is not live on a 200 to its REGISTER that lists no binding of its own: it fails, the registrar kept none', async () => {
  server = await scriptedSipServer();
  // The test answers the REGISTER itself: a 200 with no Contact.
  server.registering = false;
  const session = new DirectSession();
  const ctx = new DirectContext({
    address: CAROL,
    config: { url: server.url, password: 'pw', keepAliveMs: 0 },
    session,
    domain: 'c.example',
    peer: DAVE,
  });
  const stub = await activate(ctx);
  end = async () => {
    await stub.stop();
    ctx.end();
    session.end();
  };
  server.reply(await server.request('REGISTER'), 200);
  await ctx.until(() => ctx.statuses.includes('failed'));
  expect(ctx.statuses).toEqual(['connecting', 'failed']);
  expect(ctx.failedWith).toBe('PF_ERR_FORBIDDEN');
});
