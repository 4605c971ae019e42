import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import type { JsonWsFrame } from '../../../core/generated/types.js';
import { request, response } from '../../../core/message.js';
import type { Stub } from '../../../core/stub.js';
import { DirectContext, DirectSession } from '../../../test/support/direct-context.js';
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
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  peers.length = 0;
  await new Promise((r) => server.close(r));
});

/** A node that answers auth with ready and hands every connection to `script`. */
async function scriptedNode(script: (peer: Peer, frame: JsonWsFrame) => void, ready = true): Promise<string> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'protofly.json-ws.v1' });
  server.on('connection', (ws) => {
    const peer: Peer = { ws, frames: [] };
    peers.push(peer);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as JsonWsFrame;
      peer.frames.push(frame);
      if (frame.t === 'auth') {
        if (ready) ws.send(JSON.stringify({ t: 'ready', address: ALICE, hyperties: frame.hyperties ?? [] }));
        return;
      }
      script(peer, frame);
    });
  });
  await new Promise((r) => server.once('listening', r));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function open(
  url: string,
  config: Record<string, unknown> = {},
  snapshot?: unknown,
): Promise<{ stub: Stub; ctx: DirectContext }> {
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
  return { stub, ctx };
}

const until = async (check: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > end) throw new Error('condition not met');
  }
};
const msgIds = (peer: Peer | undefined) => peer?.frames.flatMap((f) => (f.t === 'msg' ? [f.m.id] : [])) ?? [];

describe('json-ws connection', () => {
  it('hands the app each message once, and tells responses with one id apart by code', async () => {
    const hello = chat(BOB, ALICE);
    const trying = response(chat(ALICE, BOB), 100);
    const ok = { ...trying, body: { code: 200, description: 'OK' } };
    const url = await scriptedNode(() => {});
    server.on('connection', (ws) => {
      ws.once('message', () => {
        for (const m of [hello, hello, trying, ok, trying, ok, hello])
          ws.send(JSON.stringify({ t: 'msg', m }));
      });
    });
    const { ctx } = await open(url);
    await ctx.until(() => ctx.received.length >= 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(ctx.received).toEqual([hello, trying, ok]);
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
    await until(() => peers.length === 2 && ctx.statuses.at(-1) === 'live');
    peers[1]!.ws.send(JSON.stringify({ t: 'msg', m: chat(BOB, ALICE, 'again') }));
    await until(() => receipts(peers[1]).length === 1);
    expect(receipts(peers[1])).toEqual([1]);
  });

  it('resends what was not acknowledged, in order, on the next socket, and claims its hyperties again', async () => {
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      if (peers.indexOf(peer) === 0) {
        // The first socket acknowledges the first message only, then the node goes away.
        if (msgIds(peer).length === 1) peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
        if (msgIds(peer).length === 3) peer.ws.close(1012, 'service restart');
      } else {
        peer.ws.send(JSON.stringify({ t: 'ack', ids: [frame.m.id] }));
      }
    });
    const { stub, ctx } = await open(url);
    const sent = [chat('hyperty://a.example/h1', BOB, 'a'), chat(ALICE, BOB, 'b'), chat(ALICE, BOB, 'c')];
    for (const m of sent) stub.postMessage(m);
    await until(() => peers.length === 2 && ctx.statuses.at(-1) === 'live');
    const later = chat(ALICE, BOB, 'd');
    stub.postMessage(later);
    await until(() => msgIds(peers[1]).length === 3);
    expect(msgIds(peers[0])).toEqual(sent.map((m) => m.id));
    expect(msgIds(peers[1])).toEqual([sent[1]!.id, sent[2]!.id, later.id]);
    expect(peers[1]!.frames[0]).toEqual({
      t: 'auth',
      token: 'token',
      hyperties: ['hyperty://a.example/h1'],
      receipts: true,
    });
    expect(ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'connecting', 'live']);
  });

  it('keeps at most windowSize messages unacknowledged on the wire', async () => {
    const url = await scriptedNode(() => {});
    const { stub } = await open(url, { windowSize: 2 });
    const sent = [chat(ALICE, BOB, '1'), chat(ALICE, BOB, '2'), chat(ALICE, BOB, '3')];
    for (const m of sent) stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(msgIds(peers[0])).toHaveLength(2);
    peers[0]!.ws.send(JSON.stringify({ t: 'ack', ids: [sent[0]!.id] }));
    await until(() => msgIds(peers[0]).length === 3);
    expect(msgIds(peers[0])).toEqual(sent.map((m) => m.id));
  });

  it('sends a message refused as a flood again after a pause, without bothering the app', async () => {
    let refusals = 0;
    const url = await scriptedNode((peer, frame) => {
      if (frame.t !== 'msg') return;
      const flood = refusals++ === 0;
      const answer = flood
        ? { t: 'err', code: 'PF_ERR_FLOOD', message: 'slow down', id: frame.m.id }
        : { t: 'ack', ids: [frame.m.id] };
      peer.ws.send(JSON.stringify(answer));
    });
    const { stub, ctx } = await open(url, { floodPauseMs: 20 });
    const m = chat(ALICE, BOB);
    stub.postMessage(m);
    await until(() => msgIds(peers[0]).length === 2);
    expect(msgIds(peers[0])).toEqual([m.id, m.id]);
    expect(ctx.received).toEqual([]);
  });

  it('gives up on a socket with no ready within connectTimeoutMs and tries a new one', async () => {
    const url = await scriptedNode(() => {}, false);
    const { ctx } = await open(url, { connectTimeoutMs: 50 });
    await until(() => peers.length >= 2);
    expect(ctx.statuses.slice(0, 3)).toEqual(['connecting', 'disconnected', 'connecting']);
    await until(() => peers[0]!.ws.readyState === peers[0]!.ws.CLOSED);
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
});
