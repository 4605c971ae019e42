import { afterEach, describe, expect, it } from 'vitest';
import { ProtoflyError } from '../../../core/errors.js';
import { type Message, request, response } from '../../../core/message.js';
import type { Stub } from '../../../core/stub.js';
import { DirectContext, DirectSession } from '../../../entry/stub-testing.js';
import { type TwoDomains, twoDomains } from '../../../test/support/node-fixture.js';
import activate from './index.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });
/** Short delays so reconnection happens within a test. */
const FAST = { reconnectDelayMs: 20, reconnectDelayMaxMs: 100, connectTimeoutMs: 2000 };

let domains: TwoDomains;
const running: { stub: Stub; ctx: DirectContext; session: DirectSession }[] = [];

afterEach(async () => {
  for (const { stub, ctx, session } of running.splice(0)) {
    await stub.stop();
    ctx.end();
    session.end();
  }
  await domains?.close();
});

/** Activates the json-ws stub for `address` against b.example's node. */
async function open(
  address: string,
  options: { session?: DirectSession; token?: string; from?: readonly string[] } = {},
) {
  const session = options.session ?? new DirectSession();
  const ctx = new DirectContext({
    address,
    domain: 'b.example',
    token: options.token ?? (await domains.token(address)),
    config: { url: domains.node.url, ...FAST },
    session,
    from: options.from,
  });
  const stub = await activate(ctx);
  running.push({ stub, ctx, session });
  return { stub, ctx, session };
}

/** Makes `side` answer every request it takes with 200, as a runtime does. */
function answering(side: { stub: Stub; ctx: DirectContext }): void {
  const take = side.ctx.send.bind(side.ctx);
  side.ctx.send = (msg: Message) => {
    take(msg);
    if (msg.type !== 'response') side.stub.postMessage(response(msg, 200));
  };
}

const live = (ctx: DirectContext) => ctx.until(() => ctx.statuses.at(-1) === 'live');
const ids = (msgs: readonly Message[]) => msgs.map((m) => m.id);

describe('json-ws stub', () => {
  it('carries a chat and its response between users of two domains through the node', async () => {
    domains = await twoDomains();
    const alice = await open(ALICE);
    const bob = await open(BOB);
    await Promise.all([live(alice.ctx), live(bob.ctx)]);
    expect(alice.ctx.statuses).toEqual(['connecting', 'live']);

    const hello = chat(ALICE, BOB, 'hello bob');
    alice.stub.postMessage(hello);
    await bob.ctx.until(() => bob.ctx.received.length === 1);
    expect(bob.ctx.received).toEqual([hello]);

    const ok = response(hello, 200);
    bob.stub.postMessage(ok);
    await alice.ctx.until(() => alice.ctx.received.length === 1);
    expect(alice.ctx.received).toEqual([ok]);
  });

  it('loses and duplicates nothing while the node restarts under 1000 messages', async () => {
    // Either may come back first: a client whose reconnection finds the port closed waits its
    // backoff, and what the node gets for Bob before he is back is held for him. The bound on
    // what is held (100 by default, then PF_ERR_QUEUE_FULL to the sender) is not this test's
    // subject: it failed in CI whenever Alice came back 100 messages before Bob.
    domains = await twoDomains({ messagesPerSecond: 1_000_000, offlineMessages: 1000 });
    const alice = await open(ALICE);
    const bob = await open(BOB);
    await Promise.all([live(alice.ctx), live(bob.ctx)]);

    const sent: Message[] = [];
    let restarted: Promise<unknown> | undefined;
    for (let i = 0; i < 1000; i++) {
      const m = chat(ALICE, BOB, `message ${i}`);
      sent.push(m);
      alice.stub.postMessage(m);
      // Bursts of 50: the restart starts while a whole burst is on its way to the node.
      if (i === 349) restarted = domains.restart();
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
    }
    await restarted;
    await bob.ctx.until(() => bob.ctx.received.length >= 1000, 15_000);
    // Sent after all of them, on the same path: a late duplicate would come before it.
    const marker = chat(ALICE, BOB, 'marker');
    alice.stub.postMessage(marker);
    await bob.ctx.until(() => bob.ctx.received.some((m) => m.id === marker.id));

    expect(ids(bob.ctx.received)).toEqual(ids([...sent, marker]));
    // Nothing was refused to Alice on the way (a refusal is her app's answer to a message).
    expect(alice.ctx.received).toEqual([]);
    // The restarted node got the 650 sent after the restart began, and the ones in flight again.
    expect(domains.node.metrics.messagesIn).toBeGreaterThan(650);
    expect(alice.session.opened).toBeGreaterThanOrEqual(2);
    expect(alice.ctx.statuses).toContain('disconnected');
    expect(alice.ctx.statuses.at(-1)).toBe('live');
    expect(bob.ctx.statuses.at(-1)).toBe('live');
  });

  it('shares one socket among the conversations of one identity, and outlives the first', async () => {
    domains = await twoDomains();
    const session = new DirectSession();
    const withBob = await open(ALICE, { session });
    const withCarol = await open(ALICE, { session });
    const bob = await open(BOB);
    const carol = await open(CAROL);
    await Promise.all([withBob, withCarol, bob, carol].map((s) => live(s.ctx)));
    expect(session.opened).toBe(1);
    expect(withCarol.ctx.statuses).toEqual(['connecting', 'live']);

    const toBob = chat(ALICE, BOB);
    const toCarol = chat(ALICE, CAROL);
    withBob.stub.postMessage(toBob);
    withCarol.stub.postMessage(toCarol);
    await bob.ctx.until(() => bob.ctx.received.length === 1);
    await carol.ctx.until(() => carol.ctx.received.length === 1);
    // Each answer goes to the conversation that talks to its sender.
    bob.stub.postMessage(response(toBob, 200));
    carol.stub.postMessage(response(toCarol, 200));
    await withBob.ctx.until(() => withBob.ctx.received.length === 1);
    await withCarol.ctx.until(() => withCarol.ctx.received.length === 1);
    expect(withBob.ctx.received.map((m) => m.from)).toEqual([BOB]);
    expect(withCarol.ctx.received.map((m) => m.from)).toEqual([CAROL]);

    // The first conversation, whose context opened the socket, ends; the second goes on.
    await withBob.stub.stop();
    withBob.ctx.end();
    const again = chat(ALICE, CAROL, 'still there?');
    withCarol.stub.postMessage(again);
    await carol.ctx.until(() => carol.ctx.received.length === 2);
    expect(carol.ctx.received[1]).toEqual(again);
    expect(session.opened).toBe(1);

    const [ws] = session.sockets;
    const closed = new Promise((r) => ws!.once('close', r));
    await withCarol.stub.stop();
    await closed;
    expect(session.sockets.size).toBe(0);
    expect(session.store.size).toBe(0);
  });

  it('hands a message from a new peer to the conversation allowed to take it', async () => {
    domains = await twoDomains();
    const session = new DirectSession();
    const withBob = await open(ALICE, { session, from: [BOB] });
    const listener = await open(ALICE, { session, from: ['user://'] });
    const carol = await open(CAROL);
    await Promise.all([withBob, listener, carol].map((s) => live(s.ctx)));
    const hello = chat(CAROL, ALICE, 'hello alice');
    carol.stub.postMessage(hello);
    await listener.ctx.until(() => listener.ctx.received.length === 1);
    expect(listener.ctx.received).toEqual([hello]);
    expect(withBob.ctx.received).toEqual([]);
  });

  it('answers a request the node refuses with its response code', async () => {
    domains = await twoDomains();
    const alice = await open(ALICE);
    await live(alice.ctx);
    const spoof = chat(BOB, CAROL);
    alice.stub.postMessage(spoof);
    await alice.ctx.until(() => alice.ctx.received.length === 1);
    expect(alice.ctx.received[0]).toEqual({
      id: spoof.id,
      type: 'response',
      from: CAROL,
      to: BOB,
      body: { code: 403, description: `PF_ERR_SPOOF: ${ALICE} may not send as ${BOB}` },
    });
  });

  it('answers 413 for a message over the frame limit without sending it', async () => {
    domains = await twoDomains();
    const alice = await open(ALICE);
    await live(alice.ctx);
    const big = chat(ALICE, BOB, 'é'.repeat(40_000)); // 40 000 characters, 80 000 bytes
    alice.stub.postMessage(big);
    await alice.ctx.until(() => alice.ctx.received.length === 1);
    expect(alice.ctx.received[0]!.body).toEqual({
      code: 413,
      description: `message ${big.id} is over 65536 bytes framed`,
    });
    expect(domains.node.metrics.messagesIn).toBe(0);
  });

  it('fails for good when the node refuses its token, answering what waits with 503', async () => {
    domains = await twoDomains();
    const alice = await open(ALICE, { token: await domains.a.issue(ALICE, 300, 'c.example') });
    const waiting = chat(ALICE, BOB);
    alice.stub.postMessage(waiting);
    await alice.ctx.until(() => alice.ctx.statuses.at(-1) === 'failed');
    expect(alice.ctx.statuses).toEqual(['connecting', 'failed']);
    expect(alice.ctx.received).toEqual([
      expect.objectContaining({
        id: waiting.id,
        type: 'response',
        body: expect.objectContaining({ code: 503 }),
      }),
    ]);
    expect(alice.session.opened).toBe(1);
  });

  it('stays live on a quiet connection: the node answers its pings', async () => {
    domains = await twoDomains();
    const session = new DirectSession();
    const ctx = new DirectContext({
      address: ALICE,
      domain: 'b.example',
      token: await domains.token(ALICE),
      // Pings every 20 ms of quiet; a deadline no loaded machine misses.
      config: { url: domains.node.url, ...FAST, pingIntervalMs: 20, pingTimeoutMs: 5000 },
      session,
    });
    const stub = await activate(ctx);
    running.push({ stub, ctx, session });
    await live(ctx);
    const [ws] = session.sockets;
    let pongs = 0;
    await new Promise<void>((resolve) =>
      ws!.on('message', (data) => {
        if (String(data) === '{"t":"pong"}' && ++pongs === 3) resolve();
      }),
    );
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    expect(session.opened).toBe(1);
  });

  // Issue #23: 600 at once used to arrive with 268 out of order, in reversed runs. The order
  // needs both sides: the node refusing a run once it refused one message (until that one comes
  // again: the node-hardening branch), and the stub resending a refused run in order.
  it('delivers 600 messages sent at once under the default rate limit, in order, each once', async () => {
    domains = await twoDomains({ messagesPerSecond: 100 });
    const alice = await open(ALICE);
    const bob = await open(BOB);
    answering(bob);
    await Promise.all([live(alice.ctx), live(bob.ctx)]);
    const sent = Array.from({ length: 600 }, (_, i) => chat(ALICE, BOB, `${i}`));
    for (const m of sent) alice.stub.postMessage(m);
    await bob.ctx.until(() => bob.ctx.received.length >= sent.length, 30_000);
    // Every one answered (on whichever socket: a loaded machine may miss a ping and reconnect),
    // so nothing more is on its way that could arrive twice.
    // The node's acks are batched: the last ones may come after the last answers.
    await alice.ctx.until(
      () => alice.ctx.received.length >= sent.length && outboxOf(alice.stub) === 0,
      30_000,
    );
    expect(ids(bob.ctx.received)).toEqual(ids(sent));
    expect(domains.node.metrics.refused.get('PF_ERR_FLOOD')).toBeGreaterThan(0);
    // Bob's answers, each a 200 (none refused by the node and answered by the stub), each once.
    // Their order is not the point: an answer lost with a socket comes again after later ones.
    expect(ids(alice.ctx.received).sort()).toEqual(ids(sent).sort());
    expect(alice.ctx.received.every((m) => m.type === 'response' && m.body.code === 200)).toBe(true);
  }, 60_000);

  it('loses nothing a busy runtime could not take: the node holds it, and it comes in order', async () => {
    domains = await twoDomains({ messagesPerSecond: 1_000_000, maxUnreceived: 20 });
    const alice = await open(ALICE);
    const bob = await open(BOB);
    answering(bob);
    await Promise.all([live(alice.ctx), live(bob.ctx)]);
    // Bob's runtime takes nothing for a while: his stub tells the node of nothing, and the node
    // drops him as a slow consumer once 20 are untold, holding the rest for him.
    const take = bob.ctx.send.bind(bob.ctx);
    let busy = true;
    bob.ctx.send = (msg: Message) => {
      if (busy) throw new ProtoflyError('PF_ERR_QUEUE_FULL', 'the app is not reading');
      take(msg);
    };
    const sent = Array.from({ length: 100 }, (_, i) => chat(ALICE, BOB, `${i}`));
    for (const m of sent) alice.stub.postMessage(m);
    await bob.ctx.until(() => bob.ctx.statuses.includes('disconnected'));
    busy = false;
    await bob.ctx.until(() => bob.ctx.received.length >= sent.length, 20_000);
    await bob.ctx.until(() => bob.ctx.statuses.at(-1) === 'live');
    expect(ids(bob.ctx.received)).toEqual(ids(sent));
  }, 60_000);
});

/**
 * Messages the stub holds for the node, sent or not, or sent and waiting for their far side's
 * answer (its snapshot lists them).
 */
function outboxOf(stub: Stub): number {
  return (stub.snapshot!() as { outbox: unknown[] }).outbox.length;
}
