import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { ERRORS, isRetryable, ProtoflyError } from '../../../core/errors.js';
import type { JsonWsFrame } from '../../../core/generated/types.js';
import { validateMessage } from '../../../core/generated/validators.js';
import { type Message, request, response } from '../../../core/message.js';
import type { Stub } from '../../../core/stub.js';
import { DirectContext, DirectSession } from '../../../entry/stub-testing.js';
import activate from './index.js';

/**
 * The stub against a scripted node on loopback: the wire-level cases a real node produces only
 * by bad luck (a lost ack, a duplicate, a flood refusal, a node that never says ready).
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

/** One client connection as the scripted node sees it. */
interface Peer {
  readonly ws: WebSocket;
  readonly frames: JsonWsFrame[];
}

let server: WebSocketServer;
const peers: Peer[] = [];
/** Called with every frame the scripted node gets: for waits that need no timer (fake clocks). */
const hearing = new Set<(peer: Peer, frame: JsonWsFrame) => void>();
/** Resolves with the next frame from a client that `match` takes. */
const heard = (match: (frame: JsonWsFrame, peer: Peer) => boolean) =>
  new Promise<JsonWsFrame>((resolve) => {
    const listener = (peer: Peer, frame: JsonWsFrame) => {
      if (!match(frame, peer)) return;
      hearing.delete(listener);
      resolve(frame);
    };
    hearing.add(listener);
  });
/** Re-checked whenever the scripted node sees something: a connection, a frame (once handled), a close. */
const watchers = new Set<() => void>();
const changed = () => {
  for (const watch of [...watchers]) watch();
};
/** Resolves once `check()` holds; no clock, so a busy machine only makes it later (the test's timeout bounds it). */
const until = (check: () => boolean) =>
  new Promise<void>((resolve) => {
    const watch = () => {
      if (!check()) return;
      watchers.delete(watch);
      resolve();
    };
    watchers.add(watch);
    watch();
  });
const cleanups: (() => void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0)) c();
  peers.length = 0;
  hearing.clear();
  watchers.clear();
  await new Promise((r) => server.close(r));
});

/** A node that answers auth with ready and hands every connection to `script`. */
async function scriptedNode(
  script: (peer: Peer, frame: JsonWsFrame) => void,
  ready = true,
  address = ALICE,
): Promise<string> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'protofly.json-ws.v1' });
  server.on('connection', (ws) => {
    const peer: Peer = { ws, frames: [] };
    peers.push(peer);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as JsonWsFrame;
      peer.frames.push(frame);
      for (const heard of hearing) heard(peer, frame);
      if (frame.t !== 'auth') script(peer, frame);
      else if (ready) ws.send(JSON.stringify({ t: 'ready', address, hyperties: frame.hyperties ?? [] }));
      changed();
    });
    ws.on('close', changed);
    changed();
  });
  await new Promise((r) => server.once('listening', r));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function open(
  url: string,
  config: Record<string, unknown> = {},
  snapshot?: unknown,
): Promise<{ stub: Stub; ctx: DirectContext; session: DirectSession }> {
  const session = new DirectSession();
  const ctx = new DirectContext({
    address: ALICE,
    domain: 'b.example',
    token: 'token',
    config: { url, reconnectDelayMs: 10, reconnectDelayMaxMs: 50, ...config },
    session,
    ...(snapshot === undefined ? {} : { snapshot }),
  });
  const stub = await activate(ctx);
  cleanups.push(() => {
    void stub.stop();
    ctx.end();
    session.end();
  });
  return { stub, ctx, session };
}

const msgIds = (peer: Peer | undefined) => peer?.frames.flatMap((f) => (f.t === 'msg' ? [f.m.id] : [])) ?? [];

describe('json-ws connection', () => {
  it('hands the app each message once, and tells responses with one id apart by code', async () => {
    const hello = chat(BOB, ALICE);
    const trying = response(chat(ALICE, BOB), 100);
    const ok = { ...trying, body: { code: 200, description: 'OK' } };
    // Sent last: once it is in, every duplicate before it was handled (one socket keeps order).
    const marker = chat(BOB, ALICE, 'marker');
    const url = await scriptedNode(() => {});
    server.on('connection', (ws) => {
      ws.once('message', () => {
        for (const m of [hello, hello, trying, ok, trying, ok, hello, marker])
          ws.send(JSON.stringify({ t: 'msg', m }));
      });
    });
    const { ctx } = await open(url);
    await ctx.until(() => ctx.received.some((m) => m.id === marker.id));
    expect(ctx.received).toEqual([hello, trying, ok, marker]);
  });

  it('tells the node how many messages it took: soon after one, at once every hundred, counted per socket', async () => {
    const url = await scriptedNode(() => {});
    const { ctx } = await open(url);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const receipts = (peer: Peer | undefined) =>
      peer?.frames.flatMap((f) => (f.t === 'received' ? [f.n] : [])) ?? [];
    peers[0]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, 'one') }));
    await until(() => receipts(peers[0]).length === 1);
    expect(receipts(peers[0])).toEqual([1]);
    for (let i = 0; i < 150; i++)
      peers[0]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, `${i}`) }));
    await until(() => receipts(peers[0]).at(-1) === 151);
    const told = receipts(peers[0]);
    // Batched (a few frames, not 151), rising, and never more than a hundred untold.
    expect(told.length).toBeLessThan(8);
    for (let i = 1; i < told.length; i++) expect(told[i]! - told[i - 1]!).toBeGreaterThan(0);
    for (let i = 1; i < told.length; i++) expect(told[i]! - told[i - 1]!).toBeLessThanOrEqual(100);
    // A new socket counts from zero: the node forgot the old one's.
    peers[0]!.ws.close(1012, 'service restart');
    await until(() => peers.length === 2);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    peers[1]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, 'again') }));
    await until(() => receipts(peers[1]).length === 1);
    expect(receipts(peers[1])).toEqual([1]);
  });

  it('resends what was not acknowledged or not answered, in order, on the next socket, and claims its hyperties again', async () => {
    const sent = [chat('hyperty://a.example/h1', BOB, 'a'), chat(ALICE, BOB, 'b'), chat(ALICE, BOB, 'c')];
    const answered = chat(ALICE, BOB, 'answered');
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      if (peers.indexOf(peer) === 0) {
        // The first socket acknowledges the first two, Bob answers the second only, then the
        // node goes away: the first was acknowledged, but its answer may be lost with the node.
        const n = msgIds(peer).length;
        if (n === 1) peer.ws.send(JSON.stringify({ t: 'ack', ids: [answered.id, frame.m.id] }));
        if (n === 1) peer.ws.send(JSON.stringify({ t: 'msg', m: response(answered, 200) }));
        if (n === 3) peer.ws.close(1012, 'service restart');
      } else {
        peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
      }
    });
    const { stub, ctx } = await open(url);
    stub.postMessage(answered);
    for (const m of sent) stub.postMessage(m);
    await until(() => peers.length === 2);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const later = chat(ALICE, BOB, 'd');
    stub.postMessage(later);
    await until(() => msgIds(peers[1]).length === 4);
    expect(msgIds(peers[0])).toEqual([answered, ...sent].map((m) => m.id));
    expect(msgIds(peers[1])).toEqual([...sent, later].map((m) => m.id));
    expect(peers[1]!.frames[0]).toEqual({
      t: 'auth',
      token: 'token',
      hyperties: ['hyperty://a.example/h1'],
      receipts: true,
    });
    expect(ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'connecting', 'live']);
  });

  it('waits for nothing once the answer came before the node acknowledged the request', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      // Acks are batched: the far side's answer can overtake the ack of its request.
      peer.ws.send(JSON.stringify({ t: 'msg', m: response(frame.m, 200) }));
      peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
      peer.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, 'after the ack') }));
    });
    const { stub, ctx } = await open(url);
    stub.postMessage(chat(ALICE, BOB));
    await ctx.until(() => ctx.received.length === 2);
    expect((stub.snapshot!() as { outbox: unknown[] }).outbox).toEqual([]);
  });

  it('answers a request that comes again with the answer it gave, once it gave one', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t === 'msg') peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    const { stub, ctx } = await open(url);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const asked = chat(BOB, ALICE, 'are you there?');
    const again = () => peers[0]!.ws.send(JSON.stringify({ t: 'msg', m: asked }));
    again();
    await ctx.until(() => ctx.received.length === 1);
    // Not answered yet: a repeat is dropped (taken, as its receipt says), the answer to come
    // will do for both.
    const taken = heard((f) => f.t === 'received' && f.n === 2);
    again();
    await taken;
    const answer = response(asked, 200);
    stub.postMessage(answer);
    await until(() => msgIds(peers[0]).length === 1);
    // Bob lost the answer (a node went down) and asks again: the same answer goes again.
    again();
    await until(() => msgIds(peers[0]).length === 2);
    const answers = peers[0]!.frames.flatMap((f) => (f.t === 'msg' ? [f.m] : []));
    expect(answers).toEqual([answer, answer]);
    expect(ctx.received).toEqual([asked]);
  });

  it('keeps at most windowSize messages unacknowledged on the wire', async () => {
    const url = await scriptedNode(() => {});
    const { stub } = await open(url, { windowSize: 2 });
    const sent = [chat(ALICE, BOB, '1'), chat(ALICE, BOB, '2'), chat(ALICE, BOB, '3')];
    for (const m of sent) stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 2);
    // A message from the node, then the stub's receipt for it: anything it sent before is in by then.
    peers[0]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE) }));
    await until(() => peers[0]!.frames.some((f) => f.t === 'received'));
    expect(msgIds(peers[0])).toHaveLength(2);
    peers[0]!.ws.send(JSON.stringify({ t: 'ack', ids: [sent[0]!.id] }));
    await until(() => msgIds(peers[0]).length === 3);
    expect(msgIds(peers[0])).toEqual(sent.map((m) => m.id));
  });

  /** A node that refuses the first message it gets with `code`, then acknowledges. */
  const refusingFirst = (code: string) => {
    let refusals = 0;
    return scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      const answer =
        refusals++ === 0
          ? { t: 'err', code, message: 'not now', id: frame.m.id }
          : { t: 'ack', ids: [frame.m.id] };
      peer.ws.send(JSON.stringify(answer));
    });
  };

  it.each(Object.keys(ERRORS).filter(isRetryable))(
    'sends a message refused with %s (a retryable code) again after a pause, without bothering the app',
    async (code) => {
      const { stub, ctx } = await open(await refusingFirst(code), { retryPauseMs: 20 });
      const m = chat(ALICE, BOB);
      stub.postMessage(m);
      await until(() => msgIds(peers[0]).length === 2);
      expect(msgIds(peers[0])).toEqual([m.id, m.id]);
      expect(ctx.received).toEqual([]);
    },
  );

  it('sends a refused message again even when its answer came meanwhile: the node waits for it before what follows', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      if (msgIds(peer).length > 1) return peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
      // The node delivered it but could not confirm that, nor hold it: refused, then answered.
      peer.ws.send(
        JSON.stringify({ t: 'err', code: 'PF_ERR_UNAVAILABLE', message: 'not held', id: frame.m.id }),
      );
      peer.ws.send(JSON.stringify({ t: 'msg', m: response(frame.m, 200) }));
    });
    const { stub, ctx } = await open(url, { retryPauseMs: 20 });
    const m = chat(ALICE, BOB);
    stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 2);
    expect(msgIds(peers[0])).toEqual([m.id, m.id]);
    // The app got the answer, once.
    expect(ctx.received).toMatchObject([{ type: 'response', id: m.id, body: { code: 200 } }]);
  });

  it('after a refusal to send again, sends the refused run one message at a time until the node takes one', async () => {
    const sent = [chat(ALICE, BOB, 'a'), chat(ALICE, BOB, 'b'), chat(ALICE, BOB, 'c')];
    const first = sent[0]!.id;
    let refusals = 0;
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      const id = frame.m.id;
      // The store fails over: the first is refused three times, and what follows it keeps order.
      const refuse = id === first ? refusals++ < 3 : refusals <= 3;
      peer.ws.send(
        JSON.stringify(
          refuse
            ? { t: 'err', code: 'PF_ERR_UNAVAILABLE', message: 'failing over', id }
            : { t: 'ack', ids: [id] },
        ),
      );
    });
    const { stub, ctx } = await open(url, { retryPauseMs: 5 });
    for (const m of sent) stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 8);
    // The window went whole once; then the first alone until the node took it; then the rest.
    const [a, b, c] = sent.map((m) => m.id);
    expect(msgIds(peers[0])).toEqual([a, b, c, a, a, a, b, c]);
    expect(ctx.received).toEqual([]);
  });

  it('answers the app when the node refuses a message for good (PF_ERR_FORBIDDEN), and sends it once', async () => {
    const { stub, ctx } = await open(await refusingFirst('PF_ERR_FORBIDDEN'), { retryPauseMs: 20 });
    const m = chat(ALICE, BOB);
    stub.postMessage(m);
    await ctx.until(() => ctx.received.length === 1);
    expect(ctx.received).toMatchObject([{ type: 'response', id: m.id, body: { code: 403 } }]);
    expect(msgIds(peers[0])).toEqual([m.id]);
  });

  it('fails with PF_ERR_AUTH, and sends nothing, when the node binds the socket to another user', async () => {
    const url = await scriptedNode(() => {}, true, BOB);
    const { stub, ctx } = await open(url);
    stub.postMessage(chat(ALICE, BOB));
    await ctx.until(() => ctx.statuses.at(-1) === 'failed');
    expect(ctx.failedWith).toBe('PF_ERR_AUTH');
    // The chat is answered here, not sent as Bob.
    expect(ctx.received).toMatchObject([{ type: 'response', body: { code: 503 } }]);
    expect(msgIds(peers[0])).toEqual([]);
    await until(() => peers[0]!.ws.readyState === peers[0]!.ws.CLOSED);
  });

  it('gives up on a socket with no ready within connectTimeoutMs and tries a new one', async () => {
    const url = await scriptedNode(() => {}, false);
    const { ctx } = await open(url, { connectTimeoutMs: 50 });
    await until(() => peers.length >= 2);
    expect(ctx.statuses.slice(0, 3)).toEqual(['connecting', 'disconnected', 'connecting']);
    await until(() => peers[0]!.ws.readyState === peers[0]!.ws.CLOSED);
  });

  it('reconnects at once, keeping what it sends, when the node of its live socket drains (1012; fake clock)', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t === 'msg' && peers.indexOf(peer) === 1)
        peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const slow = { reconnectDelayMs: 1000, reconnectDelayMaxMs: 1000, randomizationFactor: 0 };
    const { stub, ctx } = await open(url, slow);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const m = chat(ALICE, BOB, 'while draining');
    stub.postMessage(m);
    await heard((f) => f.t === 'msg');
    peers[0]!.ws.close(1012, 'service restart');
    await ctx.until(() => ctx.statuses.at(-1) === 'disconnected');
    vi.advanceTimersByTime(0);
    expect(ctx.statuses.at(-1)).toBe('connecting');
    const again = await heard((f, peer) => f.t === 'msg' && peers.indexOf(peer) === 1);
    expect(again).toMatchObject({ m: { id: m.id } });
  });

  it('waits its reconnect delay when a node drains (1012) before the socket went live (fake clock)', async () => {
    const url = await scriptedNode(() => {}, false);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // The node drains as the client authenticates: no ready, the socket closed 1012.
    const drained = heard((f, peer) => {
      if (f.t === 'auth') peer.ws.close(1012, 'service restart');
      return f.t === 'auth';
    });
    const { ctx } = await open(url, {
      reconnectDelayMs: 1000,
      reconnectDelayMaxMs: 1000,
      randomizationFactor: 0,
    });
    await drained;
    await ctx.until(() => ctx.statuses.at(-1) === 'disconnected');
    vi.advanceTimersByTime(999);
    expect(ctx.statuses).toEqual(['connecting', 'disconnected']);
    vi.advanceTimersByTime(1);
    expect(ctx.statuses).toEqual(['connecting', 'disconnected', 'connecting']);
  });

  it('hands a swap its unacknowledged messages, and the new version sends them again first, in order', async () => {
    // The node acknowledges nothing on the first socket: every message stays in its outbox.
    const url = await scriptedNode((peer, frame) => {
      if (frame.t === 'msg' && peers.indexOf(peer) > 0)
        peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    const v1 = await open(url);
    const sent = [chat(ALICE, BOB, 'one'), chat('hyperty://a.example/h1', BOB, 'two')];
    for (const m of sent) v1.stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 2);
    const snapshot = v1.stub.snapshot?.();
    expect(snapshot).toEqual({
      v: 1,
      peers: [BOB],
      hyperties: ['hyperty://a.example/h1'],
      outbox: sent,
    });

    // The other version: its own session and socket, the snapshot as ctx.snapshot.
    const v2 = await open(url, {}, JSON.parse(JSON.stringify(snapshot)));
    const later = chat(ALICE, BOB, 'three');
    v2.stub.postMessage(later);
    await until(() => msgIds(peers[1]).length === 3);
    expect(msgIds(peers[1])).toEqual([...sent, later].map((m) => m.id));
    expect(peers[1]!.frames[0]).toMatchObject({ t: 'auth', hyperties: ['hyperty://a.example/h1'] });
    // Messages from the peer reach the new version's conversation (it knows its peers).
    peers[1]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, 'back') }));
    await v2.ctx.until(() => v2.ctx.received.length === 1);
    // A snapshot this version cannot read is ignored: it starts afresh.
    const v3 = await open(url, {}, { v: 99, outbox: 'x' });
    expect(v3.stub.snapshot?.()).toEqual({ v: 1, peers: [], hyperties: [], outbox: [] });
  });

  it('acts on no frame the schema refuses: logged, counted, ignored, and nothing throws', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t === 'msg') peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    const { stub, ctx } = await open(url);
    const warn = vi.spyOn(ctx.log, 'warn');
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const m = chat(ALICE, BOB);
    const bad = [
      { t: 'ack' }, // threw before: `ids` was read as an array
      { t: 'ack', ids: 'x' },
      { t: 'err', code: 'PF_ERR_FLOOD', id: m.id }, // no message: not an err frame
      { t: 'msg', m: { ...chat(BOB, ALICE), from: 'bob' } },
      { t: 'ready' },
    ];
    for (const f of bad) peers[0]!.ws.send(JSON.stringify(f));
    stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 1);
    const back = chat(BOB, ALICE, 'still here');
    peers[0]!.ws.send(JSON.stringify({ t: 'msg', m: back }));
    await ctx.until(() => ctx.received.length === 1);
    expect(ctx.received).toEqual([back]);
    // DirectContext's log takes no arguments; the stub's calls have them.
    const calls = warn.mock.calls as unknown as [string, { refused: number; why: string }][];
    const refusals = calls.filter(([line]) => line === 'json-ws: refused a frame from the node');
    expect(refusals.map(([, data]) => data.refused)).toEqual([1, 2, 3, 4, 5]);
    expect(refusals[0]![1]).toMatchObject({ code: 'PF_ERR_FRAME', why: 'ack: keys' });
    // The malformed `msg` counts in the node's numbering: taken (refused for good) with the good one.
    await until(() => peers[0]!.frames.some((f) => f.t === 'received' && f.n === 2));
    expect(ctx.statuses).toEqual(['connecting', 'live']);
  });

  it('throws nothing and hands the runtime only messages, whatever a hostile node sends, then works on', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t === 'msg') peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    const { stub, ctx } = await open(url);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const ws = peers[0]!.ws;
    const valid = { t: 'msg', m: chat(BOB, ALICE) };
    const templates: object[] = [
      valid,
      { t: 'ack', ids: ['a'] },
      { t: 'err', code: 'PF_ERR_FLOOD', message: 'x', id: 'a' },
      { t: 'ready', address: ALICE, hyperties: [] },
      { t: 'pong' },
    ];
    /** A template with one value anywhere in it replaced by any JSON. */
    const wrongTyped = fc
      .tuple(fc.constantFrom(...templates), fc.nat(), fc.jsonValue({ maxDepth: 2 }))
      .map(([t, at, v]) => replaceAt(t, at, v));
    const frames = fc.oneof(
      { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)), weight: 4 },
      { arbitrary: fc.string(), weight: 2 },
      { arbitrary: wrongTyped.map((v) => JSON.stringify(v)), weight: 8 },
      // Deep, huge, binary and not UTF-8: now and then, each.
      fc.integer({ min: 1000, max: 20_000 }).map((n) => `{"t":"msg","m":${'['.repeat(n)}${']'.repeat(n)}}`),
      fc
        .integer({ min: 3000, max: 300_000 })
        .map((n) => JSON.stringify({ t: 'err', code: 'PF_ERR_X', message: 'x'.repeat(n) })),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.constant(Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0xff, 0xfe, 0x7d])), // {"t":<not UTF-8>}
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { maxLength: 8 }), async (batch) => {
        for (const f of batch) ws.send(f, { binary: typeof f !== 'string' });
      }),
      { numRuns: 150 },
    );
    // Whatever came, what reached the runtime is messages, and the connection still works both ways.
    const end = chat(BOB, ALICE, 'the end');
    ws.send(JSON.stringify({ t: 'msg', m: end }));
    await ctx.until(() => ctx.received.some((r) => r.id === end.id));
    for (const r of ctx.received) expect(validateMessage(r)).toBe(true);
    const m = chat(ALICE, BOB, 'after all that');
    stub.postMessage(m);
    await until(() => msgIds(peers.at(-1)).includes(m.id));
    expect(ctx.statuses.at(-1)).toBe('live');
  }, 60_000);

  it('sends a run the node refused as a flood again in order, each message once', async () => {
    // The node refuses a run: once it refused one message, every later one, until that one comes again.
    const accepted: string[] = [];
    let refusing: string | undefined;
    let refusals = 0;
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      const id = frame.m.id;
      if (refusing === id) refusing = undefined;
      else if (refusing !== undefined || accepted.length === 5 || accepted.length === 12) {
        refusing ??= id;
        refusals++;
        return peer.ws.send(JSON.stringify({ t: 'err', code: 'PF_ERR_FLOOD', message: 'slow down', id }));
      }
      accepted.push(id);
      peer.ws.send(JSON.stringify({ t: 'ack', ids: [id] }));
    });
    const { stub, ctx } = await open(url, { retryPauseMs: 5 });
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    const sent = Array.from({ length: 20 }, (_, i) => chat(ALICE, BOB, `${i}`));
    for (const m of sent) stub.postMessage(m);
    await until(() => accepted.length === sent.length);
    expect(accepted).toEqual(sent.map((m) => m.id));
    expect(refusals).toBe(15 + 8);
    expect(ctx.received).toEqual([]);
  });

  it('pings a quiet node, and reconnects, keeping what it sends, when a ping goes unanswered (fake clock)', async () => {
    let frozen = false;
    const url = await scriptedNode((peer, frame) => {
      if (frozen && peers.indexOf(peer) === 0) return; // a stopped process: the socket stays, nothing answers
      if (frame.t === 'ping') peer.ws.send('{"t":"pong"}');
      if (frame.t === 'msg') peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { stub, ctx, session } = await open(url, { pingIntervalMs: 1000, pingTimeoutMs: 500 });
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    /** Resolves once the stub's socket got a pong (its handler runs first: the stub has it then). */
    const pong = () =>
      new Promise<void>((resolve) => {
        const [ws] = session.sockets;
        const listener = (data: unknown) => {
          if (String(data) !== '{"t":"pong"}') return;
          ws!.off('message', listener);
          resolve();
        };
        ws!.on('message', listener);
      });
    /** The next beat: a ping goes out, within `pingIntervalMs` of quiet. */
    const beat = async () => {
      const ping = heard((f) => f.t === 'ping');
      vi.advanceTimersByTime(1000);
      await ping;
    };
    // Answered pings: no deadline missed, however long it goes on.
    for (let i = 0; i < 4; i++) {
      const answered = pong();
      await beat();
      await answered;
    }
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    // The node stops: a message goes unacknowledged, the next ping unanswered.
    frozen = true;
    const m = chat(ALICE, BOB, 'during the freeze');
    stub.postMessage(m);
    await heard((f) => f.t === 'msg');
    await beat();
    vi.advanceTimersByTime(499);
    expect(ctx.statuses).toEqual(['connecting', 'live']);
    vi.advanceTimersByTime(1);
    expect(ctx.statuses).toEqual(['connecting', 'live', 'disconnected']);
    // Reconnected after its backoff, it sends the unacknowledged message again.
    const again = heard((f, peer) => f.t === 'msg' && peers.indexOf(peer) === 1);
    vi.advanceTimersByTime(50);
    expect(await again).toMatchObject({ t: 'msg', m: { id: m.id } });
    expect(ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'connecting', 'live']);
  });

  it('tells the node of no message its runtime has not taken, and of each once it is taken', async () => {
    const url = await scriptedNode(() => {});
    const { ctx } = await open(url);
    await ctx.until(() => ctx.statuses.at(-1) === 'live');
    // The runtime refuses for a while, as a host whose window toward it is full.
    const take = ctx.send.bind(ctx);
    let busy = true;
    let refused = 0;
    ctx.send = (msg: Message) => {
      if (busy) {
        refused++;
        changed();
        throw new ProtoflyError('PF_ERR_QUEUE_FULL', 'the runtime is busy');
      }
      take(msg);
    };
    const sent = [chat(BOB, ALICE, '1'), chat(BOB, ALICE, '2'), chat(BOB, ALICE, '3')];
    for (const m of sent) peers[0]!.ws.send(JSON.stringify({ t: 'msg', m }));
    await until(() => refused >= 5);
    expect(peers[0]!.frames.filter((f) => f.t === 'received')).toEqual([]);
    busy = false;
    await until(() => peers[0]!.frames.some((f) => f.t === 'received'));
    expect(peers[0]!.frames.filter((f) => f.t === 'received')).toEqual([{ t: 'received', n: 3 }]);
    expect(ctx.received).toEqual(sent);
  });
});

/** `template` with its `at`-th value (depth first, modulo their number) replaced by `value`. */
function replaceAt(template: object, at: number, value: unknown): unknown {
  const slots: [Record<string, unknown>, string][] = [];
  const walk = (x: unknown) => {
    if (typeof x !== 'object' || x === null) return;
    for (const [k, v] of Object.entries(x)) {
      slots.push([x as Record<string, unknown>, k]);
      walk(v);
    }
  };
  const copy = structuredClone(template);
  walk(copy);
  const [parent, key] = slots[at % slots.length]!;
  parent[key] = value;
  return copy;
}
