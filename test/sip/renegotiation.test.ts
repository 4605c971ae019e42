import { describe, expect, it } from 'vitest';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';
import {
  bodies,
  nextConversation,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

/**
 * Hold, resume, an ICE restart and DTMF in calls through Kamailio: the canonical `update` and
 * `dtmf` bodies over re-INVITE and INFO, between two protofly runtimes (the sip-ws stub at both
 * ends) and between a runtime and JsSIP.
 */

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';
const ERIN = 'user://c.example/erin';

let world: SipWorld;
let host: NodeWorkerHost;
sipWorldForFile(
  () => startSipWorld({ carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' }),
  (w, h) => {
    world = w;
    host = h;
  },
);

/** `offer` as a hold: what a browser sends to hold (RFC 3264 §8.4). */
const held = (offer: string) => offer.replace('a=sendrecv', 'a=sendonly');

describe('renegotiation and DTMF between two protofly runtimes', () => {
  it('hold, resume and DTMF both ways, the call going on after each', async () => {
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const erin = world.runtime(ERIN, { host, password: 'erin-pw' });
    await erin.runtime.register();
    const arriving = nextConversation(erin);
    const withErin = await carol.runtime.conversation(ERIN);
    const fromErin = bodies(withErin);
    const callId = await withErin.call(sdp('carol'), ['audio']);
    const withCarol = await arriving;
    const fromCarol = bodies(withCarol);
    const offer = await fromCarol();
    const theirs = offer.callId as string;
    expect(await fromErin()).toMatchObject({ kind: 'progress', code: 180 });
    await withCarol.answer(theirs, sdp('erin'));
    expect(await fromErin()).toMatchObject({ kind: 'answer', callId });

    // Carol holds: Erin gets the new offer, her answer reaches Carol.
    const hold = held(sdp('carol'));
    expect((await withErin.post({ kind: 'update', callId, sdp: hold })).body.code).toBe(200);
    expect(await fromCarol()).toEqual({ kind: 'update', callId: theirs, sdp: hold });
    const recvonly = sdp('erin').replace('a=sendrecv', 'a=recvonly');
    await withCarol.answer(theirs, recvonly);
    expect(await fromErin()).toEqual({ kind: 'answer', callId, sdp: recvonly });

    // Erin, who was called, resumes it with an ICE restart (new ufrag): the other way round.
    const restart = sdp('erin').replace('a=ice-ufrag:abcd', 'a=ice-ufrag:efgh');
    await withCarol.post({ kind: 'update', callId: theirs, sdp: restart });
    expect(await fromErin()).toEqual({ kind: 'update', callId, sdp: restart });
    const resumed = sdp('carol');
    await withErin.answer(callId, resumed);
    expect(await fromCarol()).toEqual({ kind: 'answer', callId: theirs, sdp: resumed });

    // Keys both ways.
    expect((await withErin.post({ kind: 'dtmf', callId, digits: '42', duration: 120 })).body.code).toBe(200);
    expect(await fromCarol()).toEqual({ kind: 'dtmf', callId: theirs, digits: '4', duration: 120 });
    expect(await fromCarol()).toEqual({ kind: 'dtmf', callId: theirs, digits: '2', duration: 120 });
    await withCarol.post({ kind: 'dtmf', callId: theirs, digits: '#' });
    expect(await fromErin()).toEqual({ kind: 'dtmf', callId, digits: '#', duration: 160 });

    await withErin.bye(callId);
    expect(await fromCarol()).toEqual({ kind: 'bye', callId: theirs });
  });
});

/** Resolves with the first of `events` a JsSIP session emits, and its argument. */
function once<T>(session: { once(e: string, f: (x: T) => void): void }, event: string) {
  return new Promise<T>((resolve) => session.once(event, resolve));
}

describe('renegotiation and DTMF with JsSIP', () => {
  it('JsSIP holds and resumes (re-INVITE), restarts ICE (UPDATE): the runtime answers each update; JsSIP’s INFO keys arrive as dtmf', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const fromDave = bodies(withDave);
    const callId = await withDave.call(sdp('carol'), ['audio']);
    const session = await dave.nextCall();
    expect(await fromDave()).toMatchObject({ kind: 'progress', code: 180 });
    const confirmed = once(session, 'confirmed');
    dave.answer(session);
    expect(await fromDave()).toMatchObject({ kind: 'answer', callId });
    await confirmed;

    // JsSIP calls `done` once the re-INVITE's 2xx answer is applied to its peer connection.
    const onHold = new Promise<void>((done) => session.hold({}, done));
    const update = await fromDave();
    expect(update).toMatchObject({ kind: 'update', callId });
    expect(update.sdp).toMatch(/a=sendonly|a=inactive/);
    const recvonly = sdp('carol').replace('a=sendrecv', 'a=recvonly');
    await withDave.answer(callId, recvonly);
    await onHold;
    expect(session.connection.remoteDescription?.sdp).toBe(recvonly);

    const resumed = new Promise<void>((done) => session.unhold({}, done));
    const unhold = await fromDave();
    expect(unhold).toMatchObject({ kind: 'update', callId });
    expect(unhold.sdp).toMatch(/a=sendrecv/);
    const sendrecv = sdp('carol');
    await withDave.answer(callId, sendrecv);
    await resumed;
    expect(session.connection.remoteDescription?.sdp).toBe(sendrecv);

    // An ICE restart by UPDATE (RFC 3311): the same update, answered in the UPDATE's 200.
    const restarted = new Promise<void>((done) => session.renegotiate({ useUpdate: true }, done));
    expect(await fromDave()).toMatchObject({ kind: 'update', callId });
    const fresh = sdp('carol').replace('a=ice-ufrag:abcd', 'a=ice-ufrag:wxyz');
    await withDave.answer(callId, fresh);
    await restarted;
    expect(session.connection.remoteDescription?.sdp).toBe(fresh);

    // JsSIP's DTMF_TRANSPORT enum is a type only; its INFO value is the string.
    session.sendDTMF('7', { transportType: 'INFO' as never, duration: 150 });
    expect(await fromDave()).toEqual({ kind: 'dtmf', callId, digits: '7', duration: 150 });
  });

  it('the runtime renegotiates and presses keys: JsSIP answers the re-INVITE and hears the INFO', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const fromDave = bodies(withDave);
    const session = dave.call('sip:carol@c.example');
    const offer = await fromDave();
    const callId = offer.callId as string;
    const confirmed = once(session, 'confirmed');
    await withDave.answer(callId, sdp('carol'));
    await confirmed;

    const reinvite = once<{ request: { body: string } }>(session, 'reinvite');
    const hold = held(sdp('carol'));
    expect((await withDave.post({ kind: 'update', callId, sdp: hold })).body.code).toBe(200);
    expect((await reinvite).request.body).toBe(hold);
    const answer = await fromDave();
    expect(answer).toMatchObject({ kind: 'answer', callId });
    expect(answer.sdp).toContain('o=jssip');

    const key = once<{ originator: string; dtmf: { tone: string; duration: number } }>(session, 'newDTMF');
    expect((await withDave.post({ kind: 'dtmf', callId, digits: 'A', duration: 300 })).body.code).toBe(200);
    const heard = await key;
    expect(heard.originator).toBe('remote');
    expect(heard.dtmf).toMatchObject({ tone: 'A', duration: 300 });
  });
});
