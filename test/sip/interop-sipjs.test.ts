import { SessionState } from 'sip.js';
import { describe, expect, it } from 'vitest';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';
import {
  bodies,
  nextConversation,
  nextMessage,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

/**
 * The sip-ws stub against SIP.js, a second SIP library independent of JsSIP, through real
 * Kamailio: chat with UTF-8 and large bodies both ways, calls both ways with ringing, answer,
 * CANCEL, a decline and BYE, hold by re-INVITE and DTMF by INFO.
 */

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';

let world: SipWorld;
let host: NodeWorkerHost;
sipWorldForFile(
  () => startSipWorld({ carol: 'carol-pw', dave: 'dave-pw' }),
  (w, h) => {
    world = w;
    host = h;
  },
);

/** Carol's runtime calls Dave on SIP.js with `offer`: the call's id, and the INVITE as SIP.js has it. */
async function runtimeCalls(offer: string) {
  const dave = await world.sipjs('dave');
  const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
  const withDave = await carol.runtime.conversation(DAVE);
  const fromDave = bodies(withDave);
  const callId = await withDave.call(offer, ['audio']);
  return { dave, withDave, fromDave, callId, invitation: await dave.nextCall() };
}

/** Dave on SIP.js calls Carol's registered runtime: the call, its conversation and the offer in it. */
async function sipjsCalls() {
  const dave = await world.sipjs('dave');
  const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
  await carol.runtime.register();
  const { session, final } = dave.call('sip:carol@c.example');
  const withDave = await nextConversation(carol);
  const fromDave = bodies(withDave);
  return { dave, session, final, withDave, fromDave, offer: await fromDave() };
}

describe('protofly runtime and SIP.js through Kamailio', () => {
  it('chat both ways, in UTF-8 and with a 4 KB body', async () => {
    const dave = await world.sipjs('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE, { capabilities: ['chat'] });
    const greeting = 'Grüße, Dave: 你好 👋';
    expect((await withDave.send(greeting)).body.code).toBe(200);
    expect(await dave.nextMessage()).toMatchObject({
      from: 'sip:carol@c.example',
      body: greeting,
      contentType: expect.stringMatching(/^text\/plain/),
    });
    const long = 'ä'.repeat(2048); // 4096 bytes in UTF-8
    expect((await withDave.send(long)).body.code).toBe(200);
    expect((await dave.nextMessage()).body).toBe(long);

    const reply = nextMessage(withDave);
    expect(await dave.send('sip:carol@c.example', 'Ça va, Carol ? ✓')).toBe(200);
    expect((await reply).body).toEqual({ kind: 'chat', text: 'Ça va, Carol ? ✓' });
    const longReply = nextMessage(withDave);
    expect(await dave.send('sip:carol@c.example', long)).toBe(200);
    expect((await longReply).body).toEqual({ kind: 'chat', text: long });
  });

  it('the runtime calls: ringing, SIP.js answers with its SDP, the runtime’s BYE ends it', async () => {
    const offer = sdp('carol');
    const { dave, withDave, fromDave, callId, invitation } = await runtimeCalls(offer);
    expect(invitation.body).toBe(offer);
    // SIP.js rings by itself: its user agent sends 180 before it hands the INVITE to the app.
    expect(await fromDave()).toEqual({ kind: 'progress', callId, code: 180, description: 'Ringing' });
    await invitation.accept();
    const answer = await fromDave();
    expect(answer).toMatchObject({ kind: 'answer', callId });
    expect(answer.sdp).toContain('o=sipjs');
    await dave.reaches(invitation, SessionState.Established);
    const ended = dave.reaches(invitation, SessionState.Terminated);
    expect((await withDave.bye(callId)).body.code).toBe(200);
    await ended;
  });

  it('SIP.js calls: the runtime gets the offer, answers, and hears SIP.js’s BYE', async () => {
    const { dave, session, final, withDave, fromDave, offer } = await sipjsCalls();
    expect(offer).toMatchObject({ kind: 'offer', media: ['audio'] });
    expect(offer.sdp).toContain('o=sipjs');
    const mine = sdp('carol');
    await withDave.answer(offer.callId as string, mine);
    expect(await final).toBe(200);
    await dave.reaches(session, SessionState.Established);
    expect(dave.remote(session)).toEqual([mine]);
    await session.bye();
    expect(await fromDave()).toEqual({ kind: 'bye', callId: offer.callId });
  });

  it('SIP.js cancels before the runtime answers: the conversation hears a cancelled bye (487 to SIP.js)', async () => {
    const { session, final, fromDave, offer } = await sipjsCalls();
    await session.cancel();
    expect(await fromDave()).toEqual({ kind: 'bye', callId: offer.callId, reason: 'cancelled' });
    expect(await final).toBe(487);
  });

  it('SIP.js declines with 486: the runtime hears a coded reject', async () => {
    const { fromDave, callId, invitation } = await runtimeCalls(sdp('carol'));
    expect(await fromDave()).toMatchObject({ kind: 'progress', code: 180 });
    await invitation.reject({ statusCode: 486, reasonPhrase: 'Busy Here' });
    expect(await fromDave()).toEqual({ kind: 'reject', callId, code: 486, reason: 'Busy Here' });
  });

  it('SIP.js holds by re-INVITE and presses a key by INFO; the runtime answers the update and hears the dtmf', async () => {
    const { dave, session, final, withDave, fromDave, offer } = await sipjsCalls();
    const callId = offer.callId as string;
    await withDave.answer(callId, sdp('carol'));
    expect(await final).toBe(200);
    await dave.reaches(session, SessionState.Established);

    // Hold as RFC 3264 §8.4 has it: the same offer, sendonly.
    const holding = new Promise<number>((resolve) => {
      void session.invite({
        sessionDescriptionHandlerModifiers: [
          async (d) => ({ type: d.type, sdp: d.sdp?.replace('a=sendrecv', 'a=sendonly') }),
        ],
        requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0) },
      });
    });
    const update = await fromDave();
    expect(update).toMatchObject({ kind: 'update', callId });
    expect(update.sdp).toContain('a=sendonly');
    const recvonly = sdp('carol').replace('a=sendrecv', 'a=recvonly');
    await withDave.answer(callId, recvonly);
    expect(await holding).toBe(200);
    expect(dave.remote(session).at(-1)).toBe(recvonly);

    // application/dtmf-relay, the INFO body SIP.js's own examples send.
    const pressed = new Promise<number>((resolve) => {
      void session.info({
        requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0) },
        requestOptions: {
          body: {
            contentDisposition: 'render',
            contentType: 'application/dtmf-relay',
            content: 'Signal=5\r\nDuration=200\r\n',
          },
        },
      });
    });
    expect(await fromDave()).toEqual({ kind: 'dtmf', callId, digits: '5', duration: 200 });
    expect(await pressed).toBe(200);
    await session.bye();
    expect(await fromDave()).toEqual({ kind: 'bye', callId });
  });

  it('the runtime presses keys in a call: SIP.js hears each digit in an INFO it accepts', async () => {
    const { dave, withDave, fromDave, callId, invitation } = await runtimeCalls(sdp('carol'));
    const digits: string[] = [];
    const heard = new Promise<void>((resolve) => {
      invitation.delegate = {
        onInfo: (info) => {
          digits.push(info.request.body);
          void info.accept();
          if (digits.length === 2) resolve();
        },
      };
    });
    expect(await fromDave()).toMatchObject({ kind: 'progress', code: 180 });
    await invitation.accept();
    expect(await fromDave()).toMatchObject({ kind: 'answer', callId });
    await dave.reaches(invitation, SessionState.Established);
    expect((await withDave.post({ kind: 'dtmf', callId, digits: '9*', duration: 120 })).body.code).toBe(200);
    await heard;
    expect(digits.map((d) => d.match(/Signal=(.)/)?.[1])).toEqual(['9', '*']);
    expect(digits.every((d) => /Duration=120/.test(d))).toBe(true);
  });
});
