import { join } from 'node:path';
import type { Message } from 'protofly/stub';
import {
  type ConformanceServer,
  DirectContext,
  DirectSession,
  stubConformance,
  stubFolder,
} from 'protofly/stub/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LinechatServer, start } from '../server.js';
import activate from '../src/index.js';

/**
 * The stub against the example server, in the test process: `DirectContext` is the `ctx` a
 * sandbox would give it, recording what the stub hands the runtime (`received`) and its
 * statuses; `until` waits for a condition, re-checked after every event the stub runs on.
 */

const ALICE = 'user://linechat.localhost/alice';
const BOB = 'user://linechat.localhost/bob';
/** Short reconnection delays, so that a test sees the stub come back at once. */
const FAST = { reconnectMs: 5, reconnectMaxMs: 50 };

// stubConformance: the conformance suite every stub passes (`protofly/stub/testing`), against the
// example server. Each property is a test of its own, named after what it checks.
const { manifest, bundle } = await stubFolder(join(import.meta.dirname, '..'));

/** The example server as the suite uses it: `restart()` starts it again on the same port. */
async function linechat(): Promise<ConformanceServer & { readonly url: string }> {
  let server = await start();
  const { url } = server;
  return {
    url,
    restart: async () => {
      await server.close();
      server = await start(Number(new URL(url).port));
    },
    close: () => server.close(),
  };
}

stubConformance({
  name: 'linechat',
  activate,
  manifest,
  bundle,
  server: linechat,
  users: [ALICE, BOB],
  context: ({ url }) => ({ token: 'token', config: { url, ...FAST } }),
  // No token: the example server refuses the HELLO.
  refused: ({ url }) => ({ config: { url, ...FAST } }),
  hostile: {
    // The hostile server says WELCOME to the HELLO, then sends whatever fast-check makes of these.
    reply: (frame) => (frame.startsWith('HELLO ') ? [`WELCOME ${frame.split(' ')[1]}`] : []),
    samples: [`WELCOME ${ALICE}`, `MSG m1 ${BOB} ${ALICE} hi Alice`, `ACK m2 ${BOB} ${ALICE} 200`],
    context: (url) => ({ token: 'token', config: { url, ...FAST } }),
  },
  // linechat carries chats, not calls; its instances hand over a snapshot in a live swap.
  offers: { calls: false, snapshot: true },
  runner: { describe, it, timers: vi },
});

let server: LinechatServer;
beforeAll(async () => {
  server = await start();
});
afterAll(() => server.close());

/** One instance of the stub: a conversation with `peer`, or the inbox without one. */
async function instance(address: string, session: DirectSession, peer?: string) {
  const ctx = new DirectContext({
    address,
    token: 'token',
    config: { url: server.url, ...FAST },
    session,
    ...(peer ? { peer, from: [peer] } : {}),
  });
  const stub = await activate(ctx);
  await ctx.until(() => ctx.statuses.includes('live'));
  return {
    ctx,
    stub,
    stop: async () => {
      await stub.stop();
      ctx.end();
    },
  };
}

const chat = (id: string, from: string, to: string, text: string): Message => ({
  id,
  type: 'create',
  from,
  to,
  body: { value: { kind: 'chat', text } },
});

const answer = (to: Message, code: number): Message => ({
  id: to.id,
  type: 'response',
  from: to.to,
  to: to.from,
  body: { code },
});

describe('linechat stub', () => {
  it('carries a chat to the peer and its answer back', async () => {
    const alice = await instance(ALICE, new DirectSession(), BOB);
    const bob = await instance(BOB, new DirectSession());
    alice.stub.postMessage(chat('m1', ALICE, BOB, 'hi Bob'));
    // Bob's inbox takes it: the conversation Alice opens.
    await bob.ctx.until(() => bob.ctx.received.length === 1);
    const got = bob.ctx.received[0]!;
    expect(got).toEqual(chat('m1', ALICE, BOB, 'hi Bob'));
    bob.stub.postMessage(answer(got, 200));
    await alice.ctx.until(() => alice.ctx.received.length === 1);
    expect(alice.ctx.received[0]).toMatchObject({
      id: 'm1',
      type: 'response',
      from: BOB,
      body: { code: 200 },
    });
    await alice.stop();
    await bob.stop();
  });

  it('answers a chat nobody is connected to take with 404', async () => {
    const alice = await instance(ALICE, new DirectSession(), BOB);
    alice.stub.postMessage(chat('m2', ALICE, BOB, 'anyone?'));
    await alice.ctx.until(() => alice.ctx.received.length === 1);
    expect(alice.ctx.received[0]).toMatchObject({ id: 'm2', type: 'response', body: { code: 404 } });
    await alice.stop();
  });

  it('answers locally what linechat cannot carry', async () => {
    const alice = await instance(ALICE, new DirectSession(), BOB);
    alice.stub.postMessage({
      id: 'c1',
      type: 'create',
      from: ALICE,
      to: BOB,
      body: { value: { kind: 'offer', sdp: 'v=0' } },
    } as Message);
    expect(alice.ctx.received[0]).toMatchObject({ id: 'c1', type: 'response', body: { code: 501 } });
    await alice.stop();
  });

  it('loses nothing and delivers nothing twice when its socket drops', async () => {
    const aliceSession = new DirectSession();
    const alice = await instance(ALICE, aliceSession, BOB);
    const bob = await instance(BOB, new DirectSession());
    alice.stub.postMessage(chat('m3', ALICE, BOB, 'one'));
    await bob.ctx.until(() => bob.ctx.received.length === 1);
    // Alice's socket drops before Bob answers: his answer finds nobody; she resends on reconnect.
    aliceSession.end();
    await alice.ctx.until(() => alice.ctx.statuses.includes('disconnected'));
    bob.stub.postMessage(answer(bob.ctx.received[0]!, 200));
    alice.stub.postMessage(chat('m4', ALICE, BOB, 'two'));
    await alice.ctx.until(() => alice.ctx.received.length === 1 && bob.ctx.received.length === 2);
    bob.stub.postMessage(answer(bob.ctx.received[1]!, 200));
    await alice.ctx.until(() => alice.ctx.received.length === 2);
    // Bob's stub answered m3 again from what it remembers, rather than deliver it twice.
    expect(bob.ctx.received.map((m) => m.id)).toEqual(['m3', 'm4']);
    expect(alice.ctx.received.map((m) => [m.id, m.type])).toEqual([
      ['m3', 'response'],
      ['m4', 'response'],
    ]);
    expect(alice.ctx.statuses).toEqual(['connecting', 'live', 'disconnected', 'live']);
    await alice.stop();
    await bob.stop();
  });
});
