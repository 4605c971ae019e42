import { describe, expect, it } from 'vitest';
import type { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { sdp } from '../../server/sip-client/sdp-peer-connection.js';
import {
  nextConversation,
  nextMessage,
  type SipWorld,
  sipWorldForFile,
  startSipWorld,
} from '../support/sip-world.js';

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';

let world: SipWorld;
let host: NodeWorkerHost;
sipWorldForFile(
  () => startSipWorld({ carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' }),
  (w, h) => {
    world = w;
    host = h;
  },
);

describe('protofly runtime and JsSIP through Kamailio', () => {
  it('chat both ways', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE, { capabilities: ['chat'] });
    expect(withDave.carrier).toMatchObject({ domain: 'c.example', name: 'sip-ws', protocol: 'sip-ws' });
    const ok = await withDave.send('hello Dave, over SIP');
    expect(ok.body.code).toBe(200);
    expect(await dave.nextMessage()).toMatchObject({
      from: 'sip:carol@c.example',
      body: 'hello Dave, over SIP',
    });
    const reply = nextMessage(withDave);
    expect(await dave.send('sip:carol@c.example', 'hello Carol')).toBe(200);
    expect((await reply).body).toEqual({ kind: 'chat', text: 'hello Carol' });
  });
});

/** Resolves with the first of `events` a JsSIP session emits, and its argument. */
function once(session: { once(e: string, f: (x: unknown) => void): void }, ...events: string[]) {
  return new Promise<{ event: string; data: { originator?: string; cause?: string } }>((resolve) => {
    for (const event of events)
      session.once(event, (data) => resolve({ event, data: data as { originator?: string } }));
  });
}

describe('calls between a protofly runtime and JsSIP', () => {
  it('the runtime calls: offer, ringing, SDP answer, ACK, and its BYE', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const offer = sdp('carol');
    const inbox = withDave[Symbol.asyncIterator]();
    const callId = await withDave.call(offer, ['audio']);
    const session = await dave.nextCall();
    expect(session.direction).toBe('incoming');
    const ringing = await inbox.next();
    expect(ringing.value.body).toEqual({ kind: 'progress', callId, code: 180, description: 'Ringing' });
    const confirmed = once(session, 'confirmed');
    dave.answer(session);
    const answer = (await inbox.next()).value.body;
    expect(answer).toMatchObject({ kind: 'answer', callId });
    expect(answer.sdp).toContain('o=jssip');
    await confirmed;
    const ended = once(session, 'ended');
    expect((await withDave.bye(callId)).body.code).toBe(200);
    expect((await ended).data.originator).toBe('remote');
  });

  it('JsSIP calls: the runtime gets the offer, answers, and hears JsSIP’s BYE', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const inbox = withDave[Symbol.asyncIterator]();
    const session = dave.call('sip:carol@c.example');
    const progress = once(session, 'progress');
    const offer = (await inbox.next()).value.body;
    expect(offer).toMatchObject({ kind: 'offer', media: ['audio'] });
    expect(offer.sdp).toContain('o=jssip');
    expect((await progress).data.originator).toBe('remote');
    const confirmed = once(session, 'confirmed');
    await withDave.answer(offer.callId, sdp('carol'));
    await confirmed;
    session.terminate();
    expect((await inbox.next()).value.body).toEqual({ kind: 'bye', callId: offer.callId });
  });

  it('the runtime cancels a call before it is answered (CANCEL, 487)', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const inbox = withDave[Symbol.asyncIterator]();
    const callId = await withDave.call(sdp('carol'));
    const session = await dave.nextCall();
    expect((await inbox.next()).value.body.kind).toBe('progress');
    const failed = once(session, 'failed', 'ended');
    expect((await withDave.bye(callId)).body.code).toBe(200);
    expect(await failed).toMatchObject({
      event: 'failed',
      data: { originator: 'remote', cause: 'Canceled' },
    });
  });

  it('JsSIP cancels a call before the runtime answers: the conversation hears a bye', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const inbox = withDave[Symbol.asyncIterator]();
    const session = dave.call('sip:carol@c.example');
    const offer = (await inbox.next()).value.body;
    await once(session, 'progress');
    const failed = once(session, 'failed');
    session.terminate();
    expect((await inbox.next()).value.body).toEqual({
      kind: 'bye',
      callId: offer.callId,
      reason: 'cancelled',
    });
    expect((await failed).data.cause).toBe('Canceled');
    // The call is gone: answering it now is refused, not sent.
    await expect(withDave.answer(offer.callId, sdp('carol'))).rejects.toMatchObject({
      code: 'PF_ERR_DELIVERY',
      detail: { code: 404 },
    });
  });

  it('JsSIP declines: the runtime hears a coded reject', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    const inbox = withDave[Symbol.asyncIterator]();
    const callId = await withDave.call(sdp('carol'));
    const session = await dave.nextCall();
    expect((await inbox.next()).value.body.kind).toBe('progress');
    session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    expect((await inbox.next()).value.body).toEqual({
      kind: 'reject',
      callId,
      code: 486,
      reason: 'Busy Here',
    });
  });

  it('a call to nobody registered is refused with the code Kamailio gave', async () => {
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withErin = await carol.runtime.conversation('user://c.example/erin');
    await expect(withErin.call(sdp('carol'))).rejects.toMatchObject({
      code: 'PF_ERR_DELIVERY',
      detail: { code: 480 },
    });
    await expect(withErin.send('are you there?')).rejects.toMatchObject({
      code: 'PF_ERR_DELIVERY',
      detail: { code: 480 },
    });
  });

  it('two protofly runtimes call each other through Kamailio', async () => {
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const erin = world.runtime('user://c.example/erin', { host, password: 'erin-pw' });
    await erin.runtime.register();
    const arriving = nextConversation(erin);
    const withErin = await carol.runtime.conversation('user://c.example/erin');
    const fromCarol = withErin[Symbol.asyncIterator]();
    const callId = await withErin.call(sdp('carol'), ['audio']);
    const withCarol = await arriving;
    expect(withCarol.peer).toBe(CAROL);
    const toCarol = withCarol[Symbol.asyncIterator]();
    const offer = (await toCarol.next()).value.body;
    expect(offer).toMatchObject({ kind: 'offer', media: ['audio'] });
    expect((await fromCarol.next()).value.body).toMatchObject({ kind: 'progress', callId, code: 180 });
    await withCarol.answer(offer.callId, sdp('erin'));
    expect((await fromCarol.next()).value.body).toMatchObject({ kind: 'answer', callId });
    await withCarol.send('chat during the call');
    expect((await fromCarol.next()).value.body).toEqual({ kind: 'chat', text: 'chat during the call' });
    await withErin.bye(callId);
    expect((await toCarol.next()).value.body).toEqual({ kind: 'bye', callId: offer.callId });
  });
});

describe('when things go wrong', () => {
  it('a wrong password is a coded error after one answered challenge, and no loop of retries', async () => {
    const carol = world.runtime(CAROL, { host, password: 'not-carols' });
    const opening = carol.runtime.conversation(DAVE);
    // The stub's own code reaches the app, once, with the stub named.
    await expect(opening).rejects.toMatchObject({ code: 'PF_ERR_AUTH' });
    await expect(opening).rejects.toThrow(
      /^PF_ERR_AUTH: stub c\.example\/sip-ws@[^:]+: REGISTER of sip:carol@c\.example refused with 401/,
    );
    // Reconnection is 50 ms here: a loop would have sent many more in this time.
    await new Promise((r) => setTimeout(r, 500));
    const refused = (await world.kamailio.rpc('htable.get', ['counters', 'refused::carol'])) as {
      item: { value: number };
    };
    expect(refused.item.value).toBe(1);
  });

  it('Kamailio restarts mid-conversation: the stub reconnects, registers again, and says so', async () => {
    const dave = await world.jssip('dave');
    const carol = world.runtime(CAROL, { host, password: 'carol-pw' });
    const withDave = await carol.runtime.conversation(DAVE);
    await withDave.send('before the restart');
    expect((await dave.nextMessage()).body).toBe('before the restart');
    const statuses: string[] = [];
    const live = new Promise<void>((resolve) =>
      withDave.on('status', (s) => {
        statuses.push(s);
        if (s === 'live') resolve();
      }),
    );
    const daveBack = new Promise((resolve) => dave.ua.once('registered', resolve));
    await world.kamailio.restart();
    await live;
    expect(statuses).toEqual(['disconnected', 'connecting', 'live']);
    await daveBack;
    await withDave.send('after the restart');
    expect((await dave.nextMessage()).body).toBe('after the restart');
    const reply = nextMessage(withDave);
    expect(await dave.send('sip:carol@c.example', 'and back')).toBe(200);
    expect((await reply).body).toEqual({ kind: 'chat', text: 'and back' });
  });
});
