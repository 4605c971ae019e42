import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Message, request, response } from '../../core/message.js';
import type { SocketDelegate, Stub, StubSocket } from '../../core/stub.js';
import { DirectContext, type DirectContextOptions, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/sip-ws/index.js';
import {
  parse,
  type SipMessage,
  SipRequest,
  SipResponse,
  SUPPORTED,
} from '../../plugins/stubs/sip-ws/message/index.js';
import { type Kamailio, startKamailio } from '../../server/kamailio.js';
import { eventually } from '../support/conversation.js';
import { type SipWorld, startSipWorld } from '../support/sip-world.js';

/** A context that also records every frame its sockets carry. */
class TappedContext extends DirectContext {
  readonly wire: { out: boolean; data: string }[] = [];

  override connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    const socket = super.connect(url, protocols, {
      ...delegate,
      onMessage: (data) => {
        this.wire.push({ out: false, data });
        delegate.onMessage(data);
      },
    });
    return {
      send: (data) => {
        this.wire.push({ out: true, data });
        socket.send(data);
      },
      close: (code, reason) => socket.close(code, reason),
    };
  }

  /** The SIP messages sent (`out`) or received, parsed; keep-alives left out. */
  sip(out: boolean): SipMessage[] {
    // Keep-alives are blank; the guest service speaks JSON.
    return this.wire
      .filter((f) => f.out === out && f.data.trim() !== '' && !f.data.startsWith('{'))
      .map((f) => parse(f.data));
  }

  requests(method: string): SipRequest[] {
    return this.sip(true).filter((m): m is SipRequest => m instanceof SipRequest && m.method === method);
  }

  responses(status: number, method: string): SipResponse[] {
    return this.sip(false).filter(
      (m): m is SipResponse => m instanceof SipResponse && m.status === status && m.cseq.method === method,
    );
  }
}

const FAST = { reconnectDelayMs: 50, reconnectDelayMaxMs: 100, randomizationFactor: 0 };
const running: { stub: Stub; ctx: DirectContext; session: DirectSession }[] = [];

/** Activates the stub for `address`, talking to `peer`. */
async function open(
  address: string,
  config: Record<string, unknown>,
  options: Partial<DirectContextOptions> = {},
): Promise<{ stub: Stub; ctx: TappedContext }> {
  const session = new DirectSession();
  const ctx = new TappedContext({
    address,
    config: { ...FAST, ...config },
    session,
    domain: 'c.example',
    ...options,
  });
  const stub = await activate(ctx);
  running.push({ stub, ctx, session });
  return { stub, ctx };
}

const settled = (ctx: DirectContext) =>
  ctx.until(() => ['live', 'failed'].includes(ctx.statuses.at(-1) ?? ''));
const chat = (from: string, to: string, text: string) =>
  request('create', from, to, { value: { kind: 'chat', text } });
/** Answers every create that reaches `ctx` with 200, as a runtime would. */
function answering(ctx: DirectContext, stub: Stub): () => Message[] {
  let seen = 0;
  const timer = setInterval(() => {
    for (const m of ctx.received.slice(seen)) if (m.type === 'create') stub.postMessage(response(m, 200));
    seen = ctx.received.length;
  }, 5);
  timers.push(timer);
  return () => ctx.received.filter((m) => m.type === 'create');
}
const timers: ReturnType<typeof setInterval>[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const t of timers.splice(0)) clearInterval(t);
  for (const { stub, ctx, session } of running.splice(0)) {
    await stub.stop();
    ctx.end();
    session.end();
  }
});

describe('sip-ws against Kamailio (MD5)', () => {
  let kam: Kamailio;
  beforeAll(async () => {
    kam = await startKamailio({ domain: 'c.example', users: { carol: 'carol-pw', dave: 'dave-pw' } });
  });
  afterAll(async () => {
    await kam?.stop();
  });

  it('registers as RFC 7118 and RFC 5626 ask: .invalid Via, ws contact with ob, reg-id and +sip.instance', async () => {
    const { ctx } = await open('user://c.example/carol', { url: kam.wsUrl, password: 'carol-pw' });
    await settled(ctx);
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    const [first, second] = ctx.requests('REGISTER');
    expect(first!.via.transport).toBe('WS');
    expect(first!.via.host).toMatch(/^[a-z0-9]+\.invalid$/);
    expect(first!.headers.all(SUPPORTED)).toEqual(['path', 'outbound']);
    const contact = first!.contacts[0]!;
    expect(contact.uri).toMatchObject({
      params: new Map([
        ['transport', 'ws'],
        ['ob', null],
      ]),
    });
    expect(contact.params.get('reg-id')).toBe('1');
    // §22.2: the challenge is answered on the same Call-ID with the next CSeq.
    expect(second!.callId).toBe(first!.callId);
    expect(second!.cseq.seq).toBe(first!.cseq.seq + 1);
    expect(second!.headers.get('Authorization')).toMatch(
      /^Digest username="carol", realm="c.example".*algorithm=MD5.*qop=auth, nc=00000001/,
    );
    // Kamailio holds the binding as outbound asks: instance and reg-id.
    const binding = (await kam.rpc('ul.lookup', ['location', 'carol'])) as {
      Contacts: { Contact: Record<string, unknown> }[];
    };
    expect(binding.Contacts[0]!.Contact).toMatchObject({
      Instance: contact.params.get('+sip.instance')!.slice(1, -1),
      'Reg-Id': 1,
    });
  });

  it('is challenged once, then sends its credentials first (one transaction per MESSAGE)', async () => {
    const carol = await open(
      'user://c.example/carol',
      { url: kam.wsUrl, password: 'carol-pw' },
      { peer: 'user://c.example/dave' },
    );
    const dave = await open('user://c.example/dave', { url: kam.wsUrl, password: 'dave-pw' });
    await Promise.all([settled(carol.ctx), settled(dave.ctx)]);
    const taken = answering(dave.ctx, dave.stub);
    const responses = () => carol.ctx.received.filter((m) => m.type === 'response').length;
    carol.stub.postMessage(chat('user://c.example/carol', 'user://c.example/dave', 'one'));
    await carol.ctx.until(() => responses() === 1);
    for (const text of ['two', 'three']) {
      carol.stub.postMessage(chat('user://c.example/carol', 'user://c.example/dave', text));
    }
    await carol.ctx.until(() => responses() === 3);
    expect(carol.ctx.received.map((m) => (m.body as { code: number }).code)).toEqual([200, 200, 200]);
    expect(
      taken()
        .map((m) => (m.body as { value: { text: string } }).value.text)
        .sort(),
    ).toEqual(['one', 'three', 'two']);
    expect(carol.ctx.responses(407, 'MESSAGE')).toHaveLength(1);
    expect(carol.ctx.requests('MESSAGE')).toHaveLength(4);
  });

  it('takes an answer the runtime gives within the delivery itself', async () => {
    const carol = await open(
      'user://c.example/carol',
      { url: kam.wsUrl, password: 'carol-pw' },
      { peer: 'user://c.example/dave' },
    );
    const session = new DirectSession();
    let dave: Stub | undefined;
    const ctx = new (class extends DirectContext {
      override send(msg: Message): void {
        super.send(msg);
        if (msg.type === 'create') dave!.postMessage(response(msg, 200));
      }
    })({
      address: 'user://c.example/dave',
      config: { ...FAST, url: kam.wsUrl, password: 'dave-pw' },
      session,
      domain: 'c.example',
    });
    dave = await activate(ctx);
    running.push({ stub: dave, ctx, session });
    await Promise.all([settled(carol.ctx), settled(ctx)]);
    carol.stub.postMessage(chat('user://c.example/carol', 'user://c.example/dave', 'answered at once'));
    await carol.ctx.until(() => carol.ctx.received.length === 1);
    expect(carol.ctx.received[0]!.body).toMatchObject({ code: 200 });
  });

  it('refreshes its registration ahead of the expiry the registrar granted', async () => {
    const { ctx } = await open('user://c.example/carol', {
      url: kam.wsUrl,
      password: 'carol-pw',
      registerExpires: 10,
    });
    await settled(ctx);
    await eventually(() => ctx.responses(200, 'REGISTER').length === 2, 'a refreshed registration', 9000);
    const [, refresh] = ctx.responses(200, 'REGISTER');
    expect(refresh!.contacts[0]!.params.get('expires')).toBe('10');
    expect(ctx.statuses).toEqual(['connecting', 'live']);
  }, 15_000);

  it('keeps the connection alive with CRLF pings, which Kamailio answers (RFC 5626 §4.4.1)', async () => {
    const { ctx } = await open('user://c.example/carol', {
      url: kam.wsUrl,
      password: 'carol-pw',
      keepAliveMs: 50,
    });
    await settled(ctx);
    await eventually(() => ctx.wire.filter((f) => !f.out && f.data === '\r\n').length >= 2, 'two pongs');
    expect(ctx.wire.filter((f) => f.out && f.data === '\r\n\r\n').length).toBeGreaterThanOrEqual(2);
  });

  it('fails with a coded error on a wrong password, after exactly one answered challenge', async () => {
    // The stub's timers (and its clock) on vitest's: after the failure, a minute of them runs at once.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { ctx } = await open('user://c.example/carol', { url: kam.wsUrl, password: 'wrong' });
    await settled(ctx);
    expect(ctx.statuses).toEqual(['connecting', 'failed']);
    // A code, not text for the app to search.
    expect(ctx.failedWith).toBe('PF_ERR_AUTH');
    const { stub, session } = running.at(-1)!;
    // No loop of retries: with every backoff and timer of a minute run, no other socket was opened.
    vi.advanceTimersByTime(60_000);
    expect(session.opened).toBe(1);
    expect(ctx.requests('REGISTER')).toHaveLength(2);
    // What the app sends now is answered at once, with why.
    stub.postMessage(chat('user://c.example/carol', 'user://c.example/dave', 'still there?'));
    await ctx.until(() => ctx.received.length === 1);
    expect(ctx.received[0]!.body).toMatchObject({
      code: 503,
      description: expect.stringMatching(/^PF_ERR_AUTH: /),
    });
  });

  it('fails with a coded error when the config lacks what it needs', async () => {
    const own = await open('user://c.example/carol', { url: kam.wsUrl });
    const guest = await open('user://a.example/alice', { url: kam.wsUrl });
    await Promise.all([settled(own.ctx), settled(guest.ctx)]);
    expect(own.ctx.statuses).toEqual(['failed']);
    expect(guest.ctx.statuses).toEqual(['failed']);
    expect([own.ctx.failedWith, guest.ctx.failedWith]).toEqual(['PF_ERR_CONFIG', 'PF_ERR_CONFIG']);
  });

  it('two stubs call through Kamailio with reliable provisional responses (RFC 3262): 180 with RSeq, PRACK, 200', async () => {
    const CAROL = 'user://c.example/carol';
    const DAVE = 'user://c.example/dave';
    const sdp = 'v=0\r\no=carol 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n';
    const carol = await open(CAROL, { url: kam.wsUrl, password: 'carol-pw' }, { peer: DAVE });
    const dave = await open(DAVE, { url: kam.wsUrl, password: 'dave-pw' });
    await Promise.all([settled(carol.ctx), settled(dave.ctx)]);
    const body = (m: Message) => (m.body as { value?: { kind: string; callId?: string } }).value;
    carol.stub.postMessage(request('create', CAROL, DAVE, { value: { kind: 'offer', callId: 'c1', sdp } }));
    await dave.ctx.until(() => dave.ctx.received.some((m) => body(m)?.kind === 'offer'));
    const offer = dave.ctx.received.find((m) => body(m)?.kind === 'offer')!;
    dave.stub.postMessage(response(offer, 200));
    // Carol's PRACK crosses Kamailio in the early dialog; Dave's 200 to it comes back.
    await carol.ctx.until(() => carol.ctx.responses(200, 'PRACK').length === 1);
    const invite = carol.ctx.requests('INVITE').at(-1)!;
    expect(invite.headers.get('Supported')).toMatch(/\b100rel\b/);
    const ringing = dave.ctx
      .sip(true)
      .find((m): m is SipResponse => m instanceof SipResponse && m.status === 180)!;
    expect(ringing.headers.get('Require')).toBe('100rel');
    const rseq = Number(ringing.headers.get('RSeq'));
    const prack = carol.ctx.requests('PRACK')[0]!;
    expect(prack.headers.get('RAck')).toBe(`${rseq} ${invite.cseq.seq} INVITE`);
    expect(prack.cseq.seq).toBe(invite.cseq.seq + 1);
    await carol.ctx.until(() => carol.ctx.received.some((m) => body(m)?.kind === 'progress'));
    // Answered: the dialog the early one became goes on after the PRACK's CSeq.
    dave.stub.postMessage(
      request('update', DAVE, CAROL, { value: { kind: 'answer', callId: body(offer)!.callId!, sdp } }),
    );
    await carol.ctx.until(() => carol.ctx.received.some((m) => body(m)?.kind === 'answer'));
    carol.stub.postMessage(request('update', CAROL, DAVE, { value: { kind: 'bye', callId: 'c1' } }));
    await dave.ctx.until(() => dave.ctx.received.some((m) => body(m)?.kind === 'bye'));
    expect(carol.ctx.requests('BYE')[0]!.cseq.seq).toBe(prack.cseq.seq + 1);
    // One 180 only: the PRACK stopped its retransmission, and the app heard one progress.
    expect(carol.ctx.received.filter((m) => body(m)?.kind === 'progress')).toHaveLength(1);
  });
});

describe('sip-ws with SHA-256 digest', () => {
  let kam: Kamailio;
  beforeAll(async () => {
    kam = await startKamailio({
      domain: 'c.example',
      users: { carol: 'carol-pw', dave: 'dave-pw' },
      algorithm: 'SHA-256',
    });
  });
  afterAll(async () => {
    await kam?.stop();
  });

  it('answers SHA-256 challenges (RFC 7616, RFC 8760) for REGISTER and MESSAGE', async () => {
    const carol = await open(
      'user://c.example/carol',
      { url: kam.wsUrl, password: 'carol-pw' },
      { peer: 'user://c.example/dave' },
    );
    const dave = await open('user://c.example/dave', { url: kam.wsUrl, password: 'dave-pw' });
    await Promise.all([settled(carol.ctx), settled(dave.ctx)]);
    expect(carol.ctx.statuses).toEqual(['connecting', 'live']);
    expect(carol.ctx.requests('REGISTER')[1]!.headers.get('Authorization')).toMatch(/algorithm=SHA-256/);
    answering(dave.ctx, dave.stub);
    carol.stub.postMessage(chat('user://c.example/carol', 'user://c.example/dave', 'hashed with SHA-256'));
    await carol.ctx.until(() => carol.ctx.received.length === 1);
    expect(carol.ctx.received[0]!.body).toMatchObject({ code: 200 });
    expect(carol.ctx.requests('MESSAGE')[1]!.headers.get('Proxy-Authorization')).toMatch(/algorithm=SHA-256/);
  });
});

describe('sip-ws as a guest', () => {
  let world: SipWorld;
  beforeAll(async () => {
    world = await startSipWorld({ dave: 'dave-pw' }, ['a.example'], {}, 2);
  });
  afterAll(async () => {
    await world?.close();
  });

  it('renews short-lived guest credentials so that the registration outlives them', async () => {
    const address = 'user://a.example/alice';
    const token = await world.domains!.byName.get('a.example')!.identity.issue(address, 600, 'c.example');
    const { ctx } = await open(
      address,
      { url: world.kamailio.wsUrl, guestUrl: world.sip.guestUrl, registerExpires: 10 },
      { token },
    );
    await settled(ctx);
    expect(ctx.requests('REGISTER')[0]!.to.uri).toMatchObject({ user: 'alice~a.example', host: 'c.example' });
    // The password lives 2 s and the binding 10 s: the refresh 5 s on needs a renewed password.
    await eventually(() => ctx.responses(200, 'REGISTER').length === 2, 'a refreshed registration', 9000);
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    const fetches = ctx.wire.filter((f) => f.out && f.data.startsWith('{"t":"guest"')).length;
    expect(fetches).toBeGreaterThanOrEqual(4);
  }, 15_000);
});
