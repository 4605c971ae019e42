import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const chat = (text: string) => request('create', ALICE, BOB, { value: { kind: 'chat', text } });
const texts = (c: JsonWsClient) =>
  c.messages().map((m) => (m.body as { value: { text: string } }).value.text);

let domains: TwoDomains;
afterEach(() => domains?.close());

/** Bob with receipts on: the node keeps what it sends him until he says he took it. */
const bobWithReceipts = async () =>
  JsonWsClient.ready(domains.node.url, await domains.token(BOB), undefined, true);

describe('messaging node: receipts (what a client took)', () => {
  it('holds again what a vanished client had not said it took, and its next session gets it in order', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await bobWithReceipts();
    const sent = ['one', 'two', 'three'].map(chat);
    for (const m of sent) alice.msg(m);
    await bob.take((f) => f.t === 'msg' && f.m.id === sent[2]!.id);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(sent[2]!.id));
    bob.send({ t: 'received', n: 1 });
    // The node answers a session's frames in order: once this is acknowledged, so was the receipt taken.
    const mark = request('create', BOB, ALICE, { value: { kind: 'chat', text: 'mark' } });
    bob.msg(mark);
    await bob.take((f) => f.t === 'ack' && f.ids.includes(mark.id));
    // Bob's side goes away without a close (a crash, a cut network): no close frame, no more reads.
    bob.ws.terminate();
    const later = chat('four');
    alice.msg(later);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(later.id));

    const back = await bobWithReceipts();
    await back.take((f) => f.t === 'msg' && f.m.id === later.id);
    expect(texts(back)).toEqual(['two', 'three', 'four']);
    expect(domains.node.metrics.stored).toBe(3);
  });

  it('keeps nothing for a client without receipts, as before', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const m = chat('one');
    alice.msg(m);
    await bob.take((f) => f.t === 'msg' && f.m.id === m.id);
    bob.ws.terminate();
    // Bob comes back once the node has seen him go, so nothing of his first session is left to fork to.
    await expect.poll(() => domains.node.connections, { timeout: 10_000 }).toBe(1);
    const back = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const probe = chat('probe');
    alice.msg(probe);
    await back.take((f) => f.t === 'msg' && f.m.id === probe.id);
    expect(texts(back)).toEqual(['probe']);
  });

  it('refuses a receipt that goes back, counts beyond what was sent, or comes without receipts on', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await bobWithReceipts();
    const m = chat('one');
    alice.msg(m);
    await bob.take((f) => f.t === 'msg');
    bob.send({ t: 'received', n: 2 });
    bob.send({ t: 'received', n: 1 });
    bob.send({ t: 'received', n: 0 });
    bob.send({ t: 'received', n: -1 });
    expect(await bob.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FRAME',
      message: 'received 2: 0 msg frames were taken before, and 1 sent since',
    });
    expect(await bob.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FRAME',
      message: 'received 0: 1 msg frames were taken before, and 0 sent since',
    });
    expect(await bob.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FRAME',
      message: expect.stringContaining('/n'),
    });
    alice.send({ t: 'received', n: 0 });
    expect(await alice.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FRAME',
      message: "a 'received' frame from a session that did not ask for receipts in auth",
    });
  });

  it('drops a client that never says what it took as a slow consumer, and its user gets everything in order', async () => {
    domains = await twoDomains({ maxUnreceived: 5 });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await bobWithReceipts();
    const sent = Array.from({ length: 8 }, (_, i) => chat(`${i}`));
    for (const m of sent) alice.msg(m);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(sent[7]!.id));
    const closed = await bob.closed;
    expect(closed.code).toBe(1013);
    expect(bob.frames.find((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('5 messages not received (bound 5)'),
    });
    const back = await bobWithReceipts();
    await back.take((f) => f.t === 'msg' && f.m.id === sent[7]!.id);
    expect(texts(back)).toEqual(sent.map((_, i) => `${i}`));
  });
});
