import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const MALLORY = 'user://b.example/mallory';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(() => {
  vi.useRealTimers();
  return domains?.close();
});

describe('messaging node: limits and malformed input', () => {
  it('closes a connection that sends a frame over maxFrameBytes with 1009, and only that one', async () => {
    domains = await twoDomains({ maxFrameBytes: 1024 });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    alice.msg(chat(ALICE, BOB, 'x'.repeat(2000)));
    expect((await alice.closed).code).toBe(1009);
    const m = chat(BOB, BOB, 'still here');
    bob.msg(m);
    expect(await bob.take((f) => f.t === 'ack')).toEqual({ t: 'ack', ids: [m.id] });
    expect(domains.node.metrics.refused.get('PF_ERR_TOO_LARGE')).toBe(1);
  });

  it('answers malformed frames with coded errors and keeps serving the connection', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bad = { ...chat(ALICE, BOB), body: { nope: 1 } };
    alice.send('{not json');
    alice.send(Buffer.from([1, 2, 3]));
    alice.ws.send(Buffer.from('{"t":"msg"}'), { binary: true });
    alice.send({ t: 'ack', ids: ['x'] });
    alice.send({ t: 'msg', m: bad });
    alice.send({ t: 'msg', m: chat(ALICE, BOB), extra: true });
    alice.send({ t: 'auth', token: 'again' });
    alice.send([]);
    const good = chat(ALICE, BOB);
    alice.msg(good);
    await alice.take((f) => f.t === 'ack');
    expect(alice.frames.slice(1)).toEqual([
      { t: 'err', code: 'PF_ERR_FRAME', message: "not JSON: '{not json'" },
      { t: 'err', code: 'PF_ERR_FRAME', message: 'binary frames are not json-ws; send text' },
      { t: 'err', code: 'PF_ERR_FRAME', message: 'binary frames are not json-ws; send text' },
      {
        t: 'err',
        code: 'PF_ERR_FRAME',
        message: "clients send 'auth', 'msg', 'received' and 'ping' frames, not 'ack'",
      },
      { t: 'err', code: 'PF_ERR_SCHEMA', message: 'frame: /m/body/value is required', id: bad.id },
      {
        t: 'err',
        code: 'PF_ERR_FRAME',
        message: "frame: (root) has unknown property 'extra'",
        id: expect.any(String),
      },
      { t: 'err', code: 'PF_ERR_FRAME', message: 'already authenticated: one auth frame only' },
      { t: 'err', code: 'PF_ERR_FRAME', message: 'frame: (root) must be object' },
      { t: 'ack', ids: [good.id] },
    ]);
  });

  it("refuses a flooding client's excess with PF_ERR_FLOOD while another pair chats without loss", async () => {
    domains = await twoDomains({ messagesPerSecond: 100, burst: 100 });
    const mallory = await JsonWsClient.ready(domains.node.url, await domains.token(MALLORY));
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const flood = Array.from({ length: 3000 }, (_, i) => chat(MALLORY, BOB, `spam ${i}`));
    const talk = Array.from({ length: 50 }, (_, i) => chat(ALICE, BOB, `real ${i}`));
    for (const [i, m] of flood.entries()) {
      mallory.msg(m);
      if (i % 60 === 0) alice.msg(talk[i / 60]!);
    }
    await alice.take((f) => f.t === 'ack' && f.ids.includes(talk[49]!.id), 10_000);
    await mallory.take(
      (f) => (f.t === 'ack' ? f.ids.includes(flood[2999]!.id) : f.t === 'err' && f.id === flood[2999]!.id),
      10_000,
    );
    await bob.take((f) => f.t === 'msg' && f.m.id === talk[49]!.id);
    // Every message of the pair arrived, in order; the flood was answered message by message.
    const fromAlice = bob.messages().filter((m) => m.from === ALICE);
    expect(fromAlice).toEqual(talk);
    const answers = mallory.answers();
    expect(answers.map((a) => a.id)).toEqual(flood.map((m) => m.id));
    const refused = answers.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThan(2000);
    expect(mallory.frames.find((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('over 100 messages/s'),
    });
    // What the node accepted from the flood reaches Bob too (after Alice's last, possibly).
    const lastAccepted = answers.filter((a) => a.ok).at(-1)!.id;
    await bob.take((f) => f.t === 'msg' && f.m.id === lastAccepted, 10_000);
    expect(bob.messages().filter((m) => m.from === MALLORY).length).toBe(3000 - refused.length);
  });

  it('answers junk only within the rate budget, and drops the rest unanswered', async () => {
    domains = await twoDomains({ messagesPerSecond: 10, burst: 10 });
    // The bucket's clock (performance.now) stands still: however slow the machine, no refill.
    vi.useFakeTimers({ toFake: ['performance'] });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    for (let i = 0; i < 100; i++) alice.send('junk');
    // A receipt is outside the budget and refused (no receipts asked): its answer comes after all the junk's.
    alice.send({ t: 'received', n: 1 });
    await alice.take((f) => f.t === 'err' && f.message.includes("'received' frame"));
    const answered = alice.frames.filter((f) => f.t === 'err').length - 1;
    expect(answered).toBe(10);
    expect(domains.node.metrics.refused.get('PF_ERR_FLOOD')).toBe(100 - answered);
  });

  it('turns connections away with 1013 once maxConnections are open', async () => {
    domains = await twoDomains({ maxConnections: 1 });
    await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const late = new JsonWsClient(domains.node.url);
    expect(await late.take((f) => f.t === 'err')).toMatchObject({ code: 'PF_ERR_FLOOD' });
    expect(await late.closed).toEqual({ code: 1013, reason: 'PF_ERR_FLOOD' });
  });
});
