import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConversationBody } from '../../../../core/generated/types.js';
import { type Message, request, response } from '../../../../core/message.js';
import {
  CAROL,
  DAVE,
  dialogOf,
  reply,
  requestOf,
  responseTo,
  type ScriptedSipServer,
  scriptedSipServer,
  sipRequest,
  stubAt,
} from '../../../../test/support/scripted-sip.js';
import { SipResponse } from '../message/index.js';

/**
 * A call's life after the offer, against a scripted SIP server: renegotiation (re-INVITE and
 * UPDATE, glare), DTMF over INFO, and reliable provisional responses (RFC 3262), with the
 * protocol timers on vitest's clock.
 */

const SDP = 'v=0\r\no=dave 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n';
const HOLD = `${SDP}a=sendonly\r\n`;
const RR = ['Record-Route', '<sip:10.0.0.9;lr>'] as const;

let server: ScriptedSipServer | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await stop?.();
  await server?.close();
  stop = undefined;
});

type Stub = Awaited<ReturnType<typeof stubAt>>;

async function live(): Promise<Stub> {
  server = await scriptedSipServer();
  const stub = await stubAt(server, { t1Ms: 500 });
  stop = stub.stop;
  return stub;
}

/** Posts a body as the app would; resolves with the stub's answer to it. */
async function post(s: Stub, value: ConversationBody): Promise<Message> {
  const msg = request(value.kind === 'offer' ? 'create' : 'update', CAROL, DAVE, { value });
  s.stub.postMessage(msg);
  await s.ctx.until(() => s.ctx.received.some((m) => m.type === 'response' && m.id === msg.id));
  return s.ctx.received.find((m) => m.type === 'response' && m.id === msg.id)!;
}

/** Sends a body as the app would, without waiting for its answer; returns its id. */
function send(s: Stub, value: ConversationBody): string {
  const msg = request(value.kind === 'offer' ? 'create' : 'update', CAROL, DAVE, { value });
  s.stub.postMessage(msg);
  return msg.id;
}

const bodyOf = (m: Message) => (m.body as { value?: ConversationBody }).value;
const codeOf = (m: Message) => (m.body as { code: number }).code;

/** The `skip`-th body of `kind` delivered to the app. */
async function delivered(s: Stub, kind: string, skip = 0): Promise<Message> {
  const of = () => s.ctx.received.filter((m) => bodyOf(m)?.kind === kind);
  await s.ctx.until(() => of().length > skip);
  return of()[skip]!;
}

/** An established call the app made: INVITE, 200 with SDP from dave (To tag d-dialog), ACK. */
async function outgoingCall(s: Stub) {
  const answered = post(s, { kind: 'offer', callId: 'c1', sdp: SDP });
  const invite = await server!.next(requestOf('INVITE'));
  server!.send(reply(invite, 200, { sdp: SDP, extra: [RR] }));
  expect(codeOf(await answered)).toBe(200);
  await server!.next(requestOf('ACK'));
  await delivered(s, 'answer');
  return invite;
}

describe('what the app is answered with', () => {
  it('the far side’s code with its reason once: not “486 486 Busy Here”, whatever the path', async () => {
    const s = await live();
    const refused = post(s, { kind: 'offer', callId: 'c0', sdp: SDP });
    server!.send(reply(await server!.next(requestOf('INVITE')), 486));
    expect((await refused).body).toEqual({ code: 486, description: 'Busy Here' });
    const chat = request('create', CAROL, DAVE, { value: { kind: 'chat', text: 'hi' } });
    s.stub.postMessage(chat);
    server!.send(reply(await server!.next(requestOf('MESSAGE')), 500, { reason: 'No error' }));
    await s.ctx.until(() => s.ctx.received.some((m) => m.id === chat.id));
    expect(s.ctx.received.find((m) => m.id === chat.id)!.body).toEqual({
      code: 500,
      description: 'No error',
    });
  });
});

describe('renegotiation: re-INVITE and UPDATE as canonical update', () => {
  it('the app holds and resumes: a re-INVITE with its SDP, ACKed, whose answer the app hears', async () => {
    const s = await live();
    const invite = await outgoingCall(s);
    const done = post(s, { kind: 'update', callId: 'c1', sdp: HOLD });
    const reinvite = await server!.next(requestOf('INVITE', 1));
    // §12.2.1.1, §14.1: in the dialog, next CSeq, a Contact (target refresh), the offer, through the route set.
    expect(reinvite.callId).toBe(invite.callId);
    expect(reinvite.to.params.get('tag')).toBe('d-dialog');
    expect(reinvite.cseq).toEqual({ seq: 2, method: 'INVITE' });
    expect(reinvite.headers.get('Route')).toBe('<sip:10.0.0.9;lr>');
    expect(reinvite.headers.get('Contact')).toMatch(/transport=ws/);
    expect(reinvite.headers.get('Supported')).toMatch(/100rel/);
    expect(reinvite.contentType).toMatchObject({ type: 'application', subtype: 'sdp' });
    expect(reinvite.body).toBe(HOLD);
    server!.send(reply(reinvite, 200, { sdp: `${SDP}a=recvonly\r\n` }));
    expect(codeOf(await done)).toBe(200);
    const ack = await server!.next(requestOf('ACK', 1));
    expect(ack.cseq).toEqual({ seq: 2, method: 'ACK' });
    expect(bodyOf(await delivered(s, 'answer', 1))).toEqual({
      kind: 'answer',
      callId: 'c1',
      sdp: `${SDP}a=recvonly\r\n`,
    });
    // Refused: the app hears a reject with the code, and the call goes on (the next offer goes out).
    const refused = post(s, { kind: 'update', callId: 'c1', sdp: SDP });
    const again = await server!.next(requestOf('INVITE', 2));
    server!.send(reply(again, 488));
    expect(codeOf(await refused)).toBe(200);
    expect(bodyOf(await delivered(s, 'reject'))).toEqual({
      kind: 'reject',
      callId: 'c1',
      code: 488,
      reason: 'Not Acceptable Here',
    });
    send(s, { kind: 'update', callId: 'c1', sdp: SDP });
    expect((await server!.next(requestOf('INVITE', 3))).cseq.seq).toBe(4);
  });

  it('the far side renegotiates: re-INVITE and UPDATE reach the app as update, its answer is the 200', async () => {
    const s = await live();
    const invite = await outgoingCall(s);
    const inDialog = (method: string, branch: string, cseq: number, extra: string[] = [], body = '') =>
      sipRequest(method, branch, { ...dialogOf(invite, cseq), extra, body });
    server!.send(
      inDialog(
        'INVITE',
        're1',
        1,
        ['Contact: <sip:dave@10.0.0.2;transport=ws>', 'Content-Type: application/sdp'],
        HOLD,
      ),
    );
    const update = await delivered(s, 'update');
    expect(bodyOf(update)).toEqual({ kind: 'update', callId: 'c1', sdp: HOLD });
    s.stub.postMessage(response(update, 200));
    // Glare the other way round: the app's own offer now waits (RFC 3264 §4: one at a time).
    expect(codeOf(await post(s, { kind: 'update', callId: 'c1', sdp: SDP }))).toBe(491);
    expect(codeOf(await post(s, { kind: 'answer', callId: 'c1', sdp: SDP }))).toBe(200);
    const ok = await server!.next(responseTo('re1', 200, 'INVITE'));
    expect(ok.body).toBe(SDP);
    // The 2xx goes again until its ACK (§13.3.1.4)...
    server!.send(inDialog('ACK', 're1ack', 1));
    // ...and the new Contact is the remote target (§12.2): the next request goes there.
    send(s, { kind: 'dtmf', callId: 'c1', digits: '1' });
    const info = await server!.next(requestOf('INFO'));
    expect(info.uri).toMatchObject({ host: '10.0.0.2' });
    server!.send(reply(info, 200));
    // An UPDATE with an offer (RFC 3311 §5.2): the same, answered at once by the app's answer.
    server!.send(
      inDialog(
        'UPDATE',
        'up1',
        2,
        ['Contact: <sip:dave@10.0.0.3;transport=ws>', 'Content-Type: application/sdp'],
        SDP,
      ),
    );
    const upd = await delivered(s, 'update', 1);
    s.stub.postMessage(response(upd, 200));
    await post(s, { kind: 'answer', callId: 'c1', sdp: HOLD });
    const upOk = await server!.next(responseTo('up1', 200, 'UPDATE'));
    expect(upOk.status).toBe(200);
    expect(upOk.body).toBe(HOLD);
    expect(upOk.headers.get('Contact')).toMatch(/transport=ws/);
    // UPDATE refreshes the target too (RFC 3311 §5.2).
    send(s, { kind: 'dtmf', callId: 'c1', digits: '2' });
    expect((await server!.next(requestOf('INFO', info.cseq.seq))).uri).toMatchObject({ host: '10.0.0.3' });
  });

  it('an update the app leaves unanswered is refused 408 after 32·T1, and the next one goes to the app', async () => {
    const s = await live();
    const invite = await outgoingCall(s);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const offer = (branch: string, cseq: number) =>
      sipRequest('UPDATE', branch, {
        ...dialogOf(invite, cseq),
        extra: ['Content-Type: application/sdp'],
        body: SDP,
      });
    server!.send(offer('u1', 1));
    s.stub.postMessage(response(await delivered(s, 'update'), 200));
    vi.advanceTimersByTime(15_999);
    await server!.barrier();
    expect(server!.heard.some((t) => t.startsWith('SIP/2.0') && t.includes('z9hG4bKu1'))).toBe(false);
    vi.advanceTimersByTime(1);
    expect((await server!.next(responseTo('u1'))).status).toBe(408);
    server!.send(offer('u2', 2));
    s.stub.postMessage(response(await delivered(s, 'update', 1), 200));
    await post(s, { kind: 'answer', callId: 'c1', sdp: HOLD });
    expect((await server!.next(responseTo('u2'))).status).toBe(200);
  });

  it('glare (§14.1): a re-INVITE crossing ours gets 491; ours, refused 491, goes once more after 2.1-4 s', async () => {
    const s = await live();
    const invite = await outgoingCall(s);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const done = post(s, { kind: 'update', callId: 'c1', sdp: HOLD });
    const ours = await server!.next(requestOf('INVITE', 1));
    // Theirs crosses ours: 491 (§14.2).
    server!.send(
      sipRequest('INVITE', 'crossing', {
        ...dialogOf(invite, 1),
        extra: ['Contact: <sip:dave@10.0.0.1>', 'Content-Type: application/sdp'],
        body: SDP,
      }),
    );
    expect((await server!.next(responseTo('crossing', 200, 'INVITE'))).status).toBe(491);
    // Ours refused 491 too: the stub owns the Call-ID, so it waits 2.1 to 4 s, then sends it again.
    server!.send(reply(ours, 491));
    // Its ACK (§17.1.1.3) says the stub has the 491.
    await server!.next(requestOf('ACK', 1));
    const count = () => server!.heard.filter((t) => t.startsWith('INVITE')).length;
    const before = count();
    vi.advanceTimersByTime(2090);
    await server!.barrier();
    expect(count()).toBe(before);
    vi.advanceTimersByTime(1920);
    const retried = await server!.next(requestOf('INVITE', 2));
    expect(retried.body).toBe(HOLD);
    server!.send(reply(retried, 200, { sdp: SDP }));
    expect(codeOf(await done)).toBe(200);
  });
});

describe('DTMF: INFO with application/dtmf-relay as canonical dtmf', () => {
  it('the app presses keys: one INFO per key, in order, each after the last was answered', async () => {
    const s = await live();
    await outgoingCall(s);
    const done = post(s, { kind: 'dtmf', callId: 'c1', digits: '1#', duration: 200 });
    const first = await server!.next(requestOf('INFO'));
    expect(first.contentType).toMatchObject({ type: 'application', subtype: 'dtmf-relay' });
    expect(first.body).toBe('Signal=1\r\nDuration=200\r\n');
    expect(server!.heard.filter((t) => t.startsWith('INFO'))).toHaveLength(1);
    server!.send(reply(first, 200));
    const second = await server!.next(requestOf('INFO', first.cseq.seq));
    expect(second.body).toBe('Signal=#\r\nDuration=200\r\n');
    server!.send(reply(second, 200));
    expect(codeOf(await done)).toBe(200);
    // A 481 (the far side lost the dialog): the app's request gets it, and the call is over (§12.2.1.2).
    const lost = post(s, { kind: 'dtmf', callId: 'c1', digits: '9' });
    const third = await server!.next(requestOf('INFO', second.cseq.seq));
    expect(third.body).toBe('Signal=9\r\nDuration=160\r\n');
    server!.send(reply(third, 481));
    expect(codeOf(await lost)).toBe(481);
    expect(bodyOf(await delivered(s, 'bye'))).toMatchObject({ kind: 'bye', callId: 'c1' });
  });

  it('reads Signal 10 and 11 as * and #, and refuses a dtmf outside an established call', async () => {
    const s = await live();
    expect(codeOf(await post(s, { kind: 'dtmf', callId: 'nope', digits: '1' }))).toBe(404);
    const invite = await outgoingCall(s);
    // A raw bus message, past no schema, cannot write into the INFO body.
    const raw = { kind: 'dtmf', callId: 'c1', digits: '1\r\nSignal=9' } as ConversationBody;
    expect(codeOf(await post(s, raw))).toBe(400);
    for (const [i, signal] of ['10', '11'].entries()) {
      server!.send(
        sipRequest('INFO', `k${i}`, {
          ...dialogOf(invite, i + 1),
          extra: ['Content-Type: application/dtmf-relay'],
          body: `Signal=${signal}\r\n`,
        }),
      );
      const dtmf = await delivered(s, 'dtmf', i);
      expect(bodyOf(dtmf)).toEqual({ kind: 'dtmf', callId: 'c1', digits: i === 0 ? '*' : '#' });
      s.stub.postMessage(response(dtmf, 200));
      expect((await server!.next(responseTo(`k${i}`))).status).toBe(200);
    }
  });
});

describe('reliable provisional responses (RFC 3262)', () => {
  it('UAS: a 180 for an INVITE that requires 100rel is reliable, sent at T1, 2·T1... until its PRACK', async () => {
    const s = await live();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const invite = sipRequest('INVITE', 'rel', {
      extra: [
        'Require: 100rel',
        'Contact: <sip:dave@10.0.0.1;transport=ws>',
        'Content-Type: application/sdp',
      ],
      body: SDP,
    });
    server!.send(invite);
    const offer = await delivered(s, 'offer');
    s.stub.postMessage(response(offer, 200));
    const ringing = await server!.next(responseTo('rel', 180));
    expect(ringing.headers.get('Require')).toBe('100rel');
    const rseq = Number(ringing.headers.get('RSeq'));
    expect(rseq).toBeGreaterThan(0);
    const copies = () => server!.heard.filter((t) => t.startsWith('SIP/2.0 180')).length;
    vi.advanceTimersByTime(499);
    await server!.barrier();
    expect(copies()).toBe(1);
    vi.advanceTimersByTime(1);
    await server!.next((m) => m instanceof SipResponse && copies() === 2);
    vi.advanceTimersByTime(1000);
    await server!.next((m) => m instanceof SipResponse && copies() === 3);
    const tag = ringing.to.params.get('tag')!;
    const prack = (branch: string, rack: string) =>
      sipRequest('PRACK', branch, { callId: 'rel@c.example', toTag: tag, cseq: 2, extra: [`RAck: ${rack}`] });
    // A PRACK for another RSeq is 481; the right one 200, and the retransmissions stop.
    server!.send(prack('pr0', `${rseq + 1} 1 INVITE`));
    expect((await server!.next(responseTo('pr0'))).status).toBe(481);
    server!.send(prack('pr1', `${rseq} 1 INVITE`).replace('CSeq: 2', 'CSeq: 3'));
    expect((await server!.next(responseTo('pr1'))).status).toBe(200);
    vi.advanceTimersByTime(10_000);
    await server!.barrier();
    expect(copies()).toBe(3);
    // The app's 183 is reliable too, with the next RSeq.
    expect(
      codeOf(
        await post(s, { kind: 'progress', callId: (bodyOf(offer) as { callId: string }).callId, code: 183 }),
      ),
    ).toBe(200);
    const progress = await server!.next(responseTo('rel', 183));
    expect(Number(progress.headers.get('RSeq'))).toBe(rseq + 1);
  });

  it('UAS: no PRACK in 64·T1: the INVITE is refused 5xx and the app hears bye', async () => {
    const s = await live();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    server!.send(
      sipRequest('INVITE', 'noprack', {
        extra: ['Require: 100rel', 'Contact: <sip:dave@10.0.0.1>', 'Content-Type: application/sdp'],
        body: SDP,
      }),
    );
    s.stub.postMessage(response(await delivered(s, 'offer'), 200));
    await server!.next(responseTo('noprack', 180));
    for (let i = 0; i < 8; i++) vi.advanceTimersByTime(8000);
    const refused = await server!.next(responseTo('noprack', 200));
    expect(refused.status).toBe(500);
    expect(bodyOf(await delivered(s, 'bye'))).toMatchObject({ kind: 'bye' });
  });

  it('UAS: the 2xx overtakes the PRACK (found by sipp): that PRACK still gets 200, the call goes on', async () => {
    const s = await live();
    server!.send(
      sipRequest('INVITE', 'race', {
        extra: ['Supported: 100rel', 'Contact: <sip:dave@10.0.0.1>', 'Content-Type: application/sdp'],
        body: SDP,
      }),
    );
    const offer = await delivered(s, 'offer');
    s.stub.postMessage(response(offer, 200));
    const ringing = await server!.next(responseTo('race', 180));
    const rseq = ringing.headers.get('RSeq');
    const callId = (bodyOf(offer) as { callId: string }).callId;
    expect(codeOf(await post(s, { kind: 'answer', callId, sdp: SDP }))).toBe(200);
    const ok = await server!.next(responseTo('race', 200));
    const tag = ok.to.params.get('tag')!;
    // RFC 3262 §3: the 180 has no SDP, so the 2xx may go first; the PRACK the caller had sent
    // matches the 180 all the same. A 481 would end the call (RFC 3261 §12.2.1.2).
    server!.send(
      sipRequest('PRACK', 'late', {
        callId: 'race@c.example',
        toTag: tag,
        cseq: 2,
        extra: [`RAck: ${rseq} 1 INVITE`],
      }),
    );
    expect((await server!.next(responseTo('late'))).status).toBe(200);
    // Only once: a second PRACK for it matches nothing.
    server!.send(
      sipRequest('PRACK', 'again', {
        callId: 'race@c.example',
        toTag: tag,
        cseq: 3,
        extra: [`RAck: ${rseq} 1 INVITE`],
      }),
    );
    expect((await server!.next(responseTo('again'))).status).toBe(481);
  });

  it('UAC: says Supported: 100rel, PRACKs a reliable 183 once in its early dialog, and counts its CSeq', async () => {
    const s = await live();
    const answered = post(s, { kind: 'offer', callId: 'c1', sdp: SDP });
    const invite = await server!.next(requestOf('INVITE'));
    expect(invite.headers.get('Supported')).toMatch(/\b100rel\b/);
    const reliable = reply(invite, 183, {
      extra: [RR, ['Require', '100rel'], ['RSeq', '7']],
    });
    server!.send(reliable);
    const prack = await server!.next(requestOf('PRACK'));
    expect(prack.headers.get('RAck')).toBe('7 1 INVITE');
    expect(prack.cseq).toEqual({ seq: 2, method: 'PRACK' });
    expect(prack.to.params.get('tag')).toBe('d-dialog');
    expect(prack.headers.get('Route')).toBe('<sip:10.0.0.9;lr>');
    expect(prack.uri).toMatchObject({ host: '10.0.0.1' });
    server!.send(reply(prack, 200));
    expect(codeOf(await answered)).toBe(200);
    // A retransmission is discarded: no second PRACK, no second progress for the app.
    server!.send(reliable);
    server!.send(reply(invite, 200, { sdp: SDP, extra: [RR] }));
    await server!.next(requestOf('ACK'));
    expect(server!.heard.filter((t) => t.startsWith('PRACK'))).toHaveLength(1);
    expect(s.ctx.received.filter((m) => bodyOf(m)?.kind === 'progress')).toHaveLength(1);
    // The confirmed dialog goes on after the PRACK's CSeq.
    send(s, { kind: 'bye', callId: 'c1' });
    expect((await server!.next(requestOf('BYE'))).cseq.seq).toBe(3);
  });
});
