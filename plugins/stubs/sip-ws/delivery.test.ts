import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Message, type ResponseMessage, request } from '../../../core/message.js';
import { isUnknown, UNKNOWN, WITHDRAW } from '../../../core/stub.js';
import { DirectContext, DirectSession } from '../../../entry/stub-testing.js';
import { type ScriptedSipServer, scriptedSipServer } from '../../../test/support/scripted-sip.js';
import activate from './index.js';

/**
 * What the stub answers the app's requests, so that send() means what it says (core/stub.ts):
 * the far side's final response; 503 for what never went on the wire; `UNKNOWN` for what went
 * and will have no answer; and withdrawals of what waits for the registration.
 */

const CAROL = 'user://c.example/carol';
const DAVE = 'user://c.example/dave';
/** RFC 3261's default T1: Timers B and F are 64·T1 = 32 s, on vitest's clock. */
const T1 = 500;

let server: ScriptedSipServer | undefined;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await cleanup?.();
  await server?.close();
});

/** The stub for Carol's conversation with Dave, on a scripted server (which registers it unless told not to). */
async function stubOn(s: ScriptedSipServer) {
  const session = new DirectSession();
  const ctx = new DirectContext({
    address: CAROL,
    config: { url: s.url, password: 'pw', keepAliveMs: 0, reconnectDelayMs: 10, randomizationFactor: 0 },
    session,
    domain: 'c.example',
    peer: DAVE,
  });
  const stub = await activate(ctx);
  cleanup = async () => {
    await stub.stop();
    ctx.end();
    session.end();
  };
  return { ctx, stub };
}

async function liveStub() {
  server = await scriptedSipServer();
  const { ctx, stub } = await stubOn(server);
  await ctx.until(() => ctx.statuses.at(-1) === 'live');
  return { ctx, stub, server };
}

/** The stub's timers (and its clock) on vitest's; sockets stay real. */
const fakeClock = () =>
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });

const chat = (text: string) => request('create', CAROL, DAVE, { value: { kind: 'chat', text } });
const withdrawal = (id: string) => request('execute', CAROL, DAVE, { method: WITHDRAW, params: { id } });
/** The stub's answer to `msg`, if it gave one. */
const answerTo = (ctx: DirectContext, msg: Message) =>
  ctx.received.find((m): m is ResponseMessage => m.type === 'response' && m.id === msg.id);
const answered = (ctx: DirectContext, msg: Message) =>
  ctx.until(() => answerTo(ctx, msg) !== undefined).then(() => answerTo(ctx, msg)!);

describe('a request on the wire with no final response: its fate is unknown', () => {
  it('a MESSAGE unanswered until Timer F (64·T1, RFC 3261 §17.1.2.2) is answered UNKNOWN, not as not delivered', async () => {
    fakeClock();
    const { ctx, stub, server } = await liveStub();
    const msg = chat('did it arrive?');
    stub.postMessage(msg);
    // On the wire; the server stays silent.
    await server.request('MESSAGE');
    vi.advanceTimersByTime(64 * T1 - 1);
    expect(answerTo(ctx, msg)).toBeUndefined();
    vi.advanceTimersByTime(1);
    const res = answerTo(ctx, msg)!;
    expect(res.body).toMatchObject({ code: 408, value: UNKNOWN });
    expect(isUnknown(res)).toBe(true);
  });

  it('a MESSAGE whose connection is lost before its final response is answered UNKNOWN', async () => {
    const { ctx, stub, server } = await liveStub();
    const msg = chat('and this one?');
    stub.postMessage(msg);
    await server.request('MESSAGE');
    server.drop();
    const res = await answered(ctx, msg);
    expect(res.body).toMatchObject({ code: 503, value: UNKNOWN });
    expect(isUnknown(res)).toBe(true);
  });

  it('an INVITE with no response until Timer B (§17.1.1.2) answers the offer UNKNOWN', async () => {
    fakeClock();
    const { ctx, stub, server } = await liveStub();
    const offer = request('create', CAROL, DAVE, {
      value: { kind: 'offer', callId: 'c1', sdp: 'v=0\r\nm=audio 9 RTP/AVP 0\r\n' },
    });
    stub.postMessage(offer);
    await server.request('INVITE');
    vi.advanceTimersByTime(64 * T1);
    expect(isUnknown(answerTo(ctx, offer)!)).toBe(true);
  });

  it('a 408 the far side sends is its answer: not delivered, with no UNKNOWN', async () => {
    const { ctx, stub, server } = await liveStub();
    const msg = chat('too slow');
    stub.postMessage(msg);
    server.reply(await server.request('MESSAGE'), 408);
    const res = await answered(ctx, msg);
    expect(res.body.code).toBe(408);
    expect(res.body.value).toBeUndefined();
    expect(isUnknown(res)).toBe(false);
  });
});

describe('requests wait for the registration, and a withdrawal takes them out', () => {
  it('a MESSAGE sent before the registration waits for it, then goes (not refused)', async () => {
    server = await scriptedSipServer();
    server.registering = false;
    const { ctx, stub } = await stubOn(server);
    const msg = chat('early');
    stub.postMessage(msg);
    await ctx.until(() => ctx.statuses.includes('connecting'));
    expect(answerTo(ctx, msg)).toBeUndefined();
    server.registering = true;
    const req = await server.request('MESSAGE');
    expect(req.body).toBe('early');
    server.reply(req, 200);
    expect((await answered(ctx, msg)).body.code).toBe(200);
  });

  it('withdrawn before it was sent: 200, and it never reaches the server', async () => {
    server = await scriptedSipServer();
    server.registering = false;
    const { ctx, stub } = await stubOn(server);
    const early = chat('withdrawn');
    stub.postMessage(early);
    const w = withdrawal(early.id);
    stub.postMessage(w);
    expect((await answered(ctx, w)).body).toMatchObject({ code: 200 });
    server.registering = true;
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    // Sent after: had the first still been held, it would have gone first, once registered.
    const later = chat('later');
    stub.postMessage(later);
    await server.request('MESSAGE');
    expect(server.heard.filter((t) => t.startsWith('MESSAGE ')).map((t) => t.split('\r\n\r\n')[1])).toEqual([
      'later',
    ]);
    // The withdrawn request is never answered: the withdrawal's 200 said what became of it.
    expect(answerTo(ctx, early)).toBeUndefined();
  });

  it('withdrawn once sent: 409, and its own final response still answers it; an id not held: 404', async () => {
    const { ctx, stub, server } = await liveStub();
    const msg = chat('on its way');
    stub.postMessage(msg);
    const req = await server.request('MESSAGE');
    const w = withdrawal(msg.id);
    stub.postMessage(w);
    expect((await answered(ctx, w)).body).toMatchObject({ code: 409 });
    server.reply(req, 200);
    expect((await answered(ctx, msg)).body.code).toBe(200);
    const none = withdrawal('no-such-request-id-00');
    stub.postMessage(none);
    expect((await answered(ctx, none)).body).toMatchObject({ code: 404 });
    // Answered: no longer on its way, so nothing to withdraw.
    const again = withdrawal(msg.id);
    stub.postMessage(again);
    expect((await answered(ctx, again)).body).toMatchObject({ code: 404 });
  });
});
