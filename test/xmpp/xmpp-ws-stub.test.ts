import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Message, request, response } from '../../core/message.js';
import type { SocketDelegate, StubSocket } from '../../core/stub.js';
import { DirectContext, DirectSession } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/xmpp-ws/index.js';
import { ConformanceContext } from '../../sandbox/node/conformance/conformance-context.js';
import { startHostileServer } from '../../sandbox/node/conformance/hostile-server.js';
import { PASSWORDS, type Prosody, startProsody, XMPP_DOMAIN } from '../support/prosody.js';
import { FAST } from '../support/sip-world.js';
import { xmppScript } from '../support/xmpp-script.js';

/** The xmpp-ws stub in the test process (DirectContext) against a real Prosody: log-in, chats and receipts. */

const DIR = join(import.meta.dirname, '../../plugins/stubs/xmpp-ws');
const DEFAULTS = JSON.parse(readFileSync(join(DIR, 'protofly.json'), 'utf8')).configuration.defaults;
const ALICE = `user://${XMPP_DOMAIN}/alice`;
const BOB = `user://${XMPP_DOMAIN}/bob`;

let prosody: Prosody;
beforeAll(async () => {
  prosody = await startProsody({ domain: XMPP_DOMAIN, users: PASSWORDS });
});
afterAll(() => prosody?.stop());

async function instance(
  address: string,
  config: Record<string, unknown> = {},
  peer?: string,
  url = prosody.wsUrl,
) {
  const user = address.split('/')[3]!;
  const ctx = new DirectContext({
    address,
    domain: XMPP_DOMAIN,
    config: { ...DEFAULTS, url, password: PASSWORDS[user], ...FAST, ...config },
    session: new DirectSession(),
    ...(peer ? { peer, from: [peer] } : {}),
  });
  const stub = await activate(ctx);
  return {
    ctx,
    stub,
    stop: async () => {
      await stub.stop();
      ctx.end();
    },
  };
}

const chat = (from: string, to: string, text: string) =>
  request('create', from, to, { value: { kind: 'chat', text } });

describe('xmpp-ws against Prosody', () => {
  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-1'])(
    'logs in with %s, carries a chat, and the receipt is its 200',
    async (mechanism) => {
      const alice = await instance(ALICE, { mechanisms: [mechanism] }, BOB);
      const bob = await instance(BOB, { mechanisms: [mechanism] });
      await alice.ctx.until(() => alice.ctx.statuses.includes('live'));
      await bob.ctx.until(() => bob.ctx.statuses.includes('live'));
      // Text XML must escape, and beyond the BMP.
      const hello = chat(ALICE, BOB, `hi <Bob> & "you" 😀 ${mechanism}`);
      alice.stub.postMessage(hello);
      await bob.ctx.until(() => bob.ctx.received.length === 1);
      const got = bob.ctx.received[0] as Message;
      expect(got).toMatchObject({
        id: hello.id,
        type: 'create',
        from: ALICE,
        to: BOB,
        body: { value: { kind: 'chat', text: `hi <Bob> & "you" 😀 ${mechanism}` } },
      });
      bob.stub.postMessage(response(got, 200));
      await alice.ctx.until(() => alice.ctx.received.length === 1);
      expect(alice.ctx.received[0]).toMatchObject({
        id: hello.id,
        type: 'response',
        from: BOB,
        body: { code: 200 },
      });
      await alice.stop();
      await bob.stop();
    },
  );

  it('acknowledges what it received before it closes (XEP-0198 §4): a chat answered just before a stop does not come again', async () => {
    const alice = await instance(ALICE, {}, BOB);
    // Bob answers and stops in the turn the chat reaches him, before any ack request of Prosody's.
    let stopBob = () => {};
    class Quick extends DirectContext {
      override send(msg: Message): void {
        super.send(msg);
        if (msg.type === 'create') queueMicrotask(() => stopBob());
      }
    }
    const ctx = new Quick({
      address: BOB,
      domain: XMPP_DOMAIN,
      config: { ...DEFAULTS, url: prosody.wsUrl, password: PASSWORDS.bob, ...FAST },
      session: new DirectSession(),
    });
    const bob = await activate(ctx);
    stopBob = () => {
      bob.postMessage(response(ctx.received[0]!, 200));
      void Promise.resolve(bob.stop()).then(() => ctx.end());
    };
    await alice.ctx.until(() => alice.ctx.statuses.includes('live'));
    await ctx.until(() => ctx.statuses.includes('live'));
    const first = chat(ALICE, BOB, 'first');
    alice.stub.postMessage(first);
    await alice.ctx.until(() => alice.ctx.received.some((m) => m.id === first.id));
    // Bob again: what he acknowledged is not offline in Prosody, so only the new chat comes.
    const again = await instance(BOB);
    await again.ctx.until(() => again.ctx.statuses.includes('live'));
    alice.stub.postMessage(chat(ALICE, BOB, 'second'));
    await again.ctx.until(() => again.ctx.received.some((m) => JSON.stringify(m.body).includes('second')));
    expect(again.ctx.received.map((m) => (m.body as { value: { text: string } }).value.text)).toEqual([
      'second',
    ]);
    await alice.stop();
    await again.stop();
  });

  it('fails for good with PF_ERR_AUTH on a wrong password, and answers what it held 503', async () => {
    const alice = await instance(ALICE, { password: 'wrong' }, BOB);
    const held = chat(ALICE, BOB, 'never goes');
    alice.stub.postMessage(held);
    await alice.ctx.until(() => alice.ctx.statuses.includes('failed'));
    expect(alice.ctx.failedWith).toBe('PF_ERR_AUTH');
    expect(alice.ctx.received).toMatchObject([{ id: held.id, type: 'response', body: { code: 503 } }]);
    await alice.stop();
  });

  it('fails for good on a socket the runtime refused (1006 with its code), answers what it held 503, and opens no other', async () => {
    // What a host does with a socket its policy refuses (sandbox/socket-bridge.ts): an error
    // naming why, then a close no server can send, with the code as reason.
    let opened = 0;
    class Refusing extends DirectContext {
      override connect(url: string, _protocols: readonly string[], delegate: SocketDelegate): StubSocket {
        opened++;
        queueMicrotask(() => {
          delegate.onError?.(`PF_ERR_POLICY: ${url}: plain ws:// is refused (endpoints.plainWebSocket)`);
          delegate.onClose?.(1006, 'PF_ERR_POLICY');
        });
        return { send() {}, close() {} };
      }
    }
    const ctx = new Refusing({
      address: ALICE,
      domain: XMPP_DOMAIN,
      config: { ...DEFAULTS, url: prosody.wsUrl, password: PASSWORDS.alice, ...FAST },
      session: new DirectSession(),
      peer: BOB,
      from: [BOB],
    });
    const stub = await activate(ctx);
    const held = chat(ALICE, BOB, 'never goes');
    stub.postMessage(held);
    await ctx.until(() => ctx.statuses.includes('failed'));
    expect(ctx.received).toMatchObject([{ id: held.id, type: 'response', body: { code: 503 } }]);
    expect(ctx.received[0]!.body).toMatchObject({ description: expect.stringContaining('plainWebSocket') });
    expect(ctx.statuses).not.toContain('disconnected');
    expect(opened).toBe(1);
    await stub.stop();
    ctx.end();
  });

  it('answers itself what XMPP cannot carry or it will not hold, and withdrawals', async () => {
    const alice = await instance(ALICE, { maxQueued: 1, maxFrameBytes: 1024 }, BOB);
    const codeOf = (id: string) =>
      alice.ctx.received.find((m) => m.type === 'response' && m.id === id)?.body as
        | { code: number }
        | undefined;
    // A create that is neither a chat nor an offer: nothing XMPP carries.
    const offer = request('create', ALICE, BOB, { value: { kind: 'answer', callId: 'c', sdp: 'v=0' } });
    const nul = chat(ALICE, BOB, 'a\u0000b');
    const big = chat(ALICE, BOB, 'x'.repeat(2000));
    const held = chat(ALICE, BOB, 'held');
    const over = chat(ALICE, BOB, 'one too many');
    // Posted at once, before it is live: `held` waits, the others are answered here.
    for (const m of [offer, nul, big, held, over]) alice.stub.postMessage(m);
    const withdraw = (id: string) =>
      request('execute', ALICE, BOB, { method: 'protofly.withdraw', params: { id } });
    const w1 = withdraw(held.id);
    const w2 = withdraw('nothing');
    alice.stub.postMessage(w1);
    alice.stub.postMessage(w2);
    expect([offer, nul, big, over, w1, w2].map((m) => codeOf(m.id)?.code)).toEqual([
      501, 400, 413, 503, 409, 404,
    ]);
    expect(codeOf(held.id)).toBeUndefined();
    await alice.stop();
  });

  it('pings while live (XEP-0199), and gives up a socket whose pong does not come, then comes back (fake clock)', async () => {
    const pings = { answer: true };
    const script = xmppScript(pings);
    const heard: string[] = [];
    const listeners = new Set<() => void>();
    const server = await startHostileServer({
      protocol: 'xmpp',
      reply: (frame) => {
        heard.push(frame);
        for (const l of listeners) l();
        return script(frame);
      },
    });
    /** Resolves once the server heard `n` pings. */
    const pinged = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => heard.filter((f) => f.includes('urn:xmpp:ping')).length >= n && resolve();
        listeners.add(check);
        check();
      });
    const config = { password: 'pw', pingIntervalMs: 30_000, pingTimeoutMs: 10_000 };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      // A context that counts the frames the stub was handed: the pong's arrival is an event to wait on.
      const ctx = new ConformanceContext({
        address: ALICE,
        domain: XMPP_DOMAIN,
        config: { ...DEFAULTS, url: server.url, ...FAST, ...config },
        session: new DirectSession(),
        peer: BOB,
        from: [BOB],
      });
      const stub = await activate(ctx);
      await ctx.until(() => ctx.statuses.includes('live'));
      expect(heard.some((f) => f.includes('urn:xmpp:ping'))).toBe(false);
      const frames = ctx.frames;
      vi.advanceTimersByTime(30_000);
      await pinged(1);
      // Answered: the next one goes an interval later, and the stream stays live.
      await ctx.until(() => ctx.frames > frames);
      pings.answer = false;
      vi.advanceTimersByTime(30_000);
      await pinged(2);
      expect(ctx.statuses).toEqual(['connecting', 'live']);
      vi.advanceTimersByTime(10_000);
      await ctx.until(() => ctx.statuses.includes('disconnected'));
      // The backoff's first delay (FAST: 50 ms), and it logs in again.
      vi.advanceTimersByTime(50);
      await ctx.until(() => ctx.statuses.at(-1) === 'live');
      expect(ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'live']);
      expect(ctx.faults()).toBeUndefined();
      await stub.stop();
      ctx.end();
    } finally {
      vi.useRealTimers();
      await server.close();
    }
  });
});
