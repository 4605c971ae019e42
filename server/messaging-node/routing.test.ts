import { afterEach, describe, expect, it } from 'vitest';
import { request, response } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';
import { MemoryLocation } from '../services/memory-location.js';
import type { Location } from '../services/service.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(() => domains?.close());

describe('messaging node: routing', () => {
  it('carries a request and its response between users of two domains, acknowledging each', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const hello = chat(ALICE, BOB, 'hello bob');
    alice.msg(hello);
    expect(await alice.take((f) => f.t === 'ack')).toEqual({ t: 'ack', ids: [hello.id] });
    expect((await bob.take((f) => f.t === 'msg')) as unknown).toEqual({ t: 'msg', m: hello });
    const ok = response(hello, 200);
    bob.msg(ok);
    expect(await bob.take((f) => f.t === 'ack')).toEqual({ t: 'ack', ids: [hello.id] });
    expect((await alice.take((f) => f.t === 'msg')) as unknown).toEqual({ t: 'msg', m: ok });
  });

  it('acknowledges every message once, in order, several to a frame', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const sent = Array.from({ length: 20 }, (_, i) => chat(ALICE, BOB, `${i}`));
    for (const m of sent) alice.msg(m);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(sent[19]!.id));
    expect(alice.answers()).toEqual(sent.map((m) => ({ id: m.id, ok: true })));
    expect(alice.frames.filter((f) => f.t === 'ack').length).toBeLessThan(20);
  });

  it("dispatches a user's messages to one recipient in the order sent when their lookups answer out of order", async () => {
    // A shared location answers from its cache at once, and from Redis later: the first
    // lookup of Bob here waits until released, the next ones answer at once.
    const location: Location = new MemoryLocation();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = 0;
    const lookup = location.lookup.bind(location);
    location.lookup = (address) => {
      if (address !== BOB || ++asked > 1) return lookup(address);
      return released.then(() => lookup(address));
    };
    domains = await twoDomains({ location });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const [first, second] = [chat(ALICE, BOB, 'first'), chat(ALICE, BOB, 'second')];
    alice.msg(first);
    alice.msg(second);
    await expect.poll(() => asked).toBe(2);
    release();
    await bob.take((f) => f.t === 'msg' && f.m.id === second.id);
    expect(bob.messages()).toEqual([first, second]);
  });

  it('forks a user:// message to every session of the user, and a hyperty:// one to one session', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const phone = await JsonWsClient.ready(domains.node.url, await domains.token(BOB), [
      'hyperty://b.example/phone',
    ]);
    const laptop = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const both = chat(ALICE, BOB, 'to every bob');
    const one = chat(ALICE, 'hyperty://b.example/phone', 'to the phone');
    alice.msg(both);
    alice.msg(one);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(one.id));
    await laptop.take((f) => f.t === 'msg');
    await phone.take((f) => f.t === 'msg' && f.m.id === one.id);
    expect(phone.messages()).toEqual([both, one]);
    expect(laptop.messages()).toEqual([both]);
    expect(domains.node.metrics.messagesOut).toBe(3);
  });

  it('keeps messages for an offline user and delivers them, in order, when the user returns', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const sent = [chat(ALICE, CAROL, 'one'), chat(ALICE, CAROL, 'two'), chat(ALICE, CAROL, 'three')];
    for (const m of sent) alice.msg(m);
    await alice.take((f) => f.t === 'ack' && f.ids.includes(sent[2]!.id));
    expect(alice.answers()).toEqual(sent.map((m) => ({ id: m.id, ok: true })));
    expect(domains.node.metrics.stored).toBe(3);
    const carol = await JsonWsClient.ready(domains.node.url, await domains.token(CAROL));
    await carol.take((f) => f.t === 'msg' && f.m.id === sent[2]!.id);
    expect(carol.messages()).toEqual(sent);
    // Taken out of the store: a second session of carol's gets nothing old.
    const again = await JsonWsClient.ready(domains.node.url, await domains.token(CAROL));
    const later = chat(ALICE, CAROL, 'four');
    alice.msg(later);
    await again.take((f) => f.t === 'msg');
    expect(again.messages()).toEqual([later]);
  });

  it('refuses a message for an offline user over its bound with PF_ERR_QUEUE_FULL', async () => {
    domains = await twoDomains({ offlineMessages: 2 });
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const sent = [chat(ALICE, CAROL, 'one'), chat(ALICE, CAROL, 'two'), chat(ALICE, CAROL, 'three')];
    for (const m of sent) alice.msg(m);
    await alice.take((f) => f.t === 'err');
    expect(alice.answers()).toEqual([
      { id: sent[0]!.id, ok: true },
      { id: sent[1]!.id, ok: true },
      { id: sent[2]!.id, ok: false },
    ]);
    expect(alice.frames.find((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_QUEUE_FULL',
      message: `${CAROL} is offline with 2 messages waiting (the most kept per address)`,
      id: sent[2]!.id,
    });
  });

  it('refuses to route to an address that is not a user or hyperty with PF_ERR_NO_ROUTE', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const m = chat(ALICE, 'domain://msg-node.b.example/registry');
    alice.msg(m);
    expect(await alice.take((f) => f.t === 'err')).toMatchObject({ code: 'PF_ERR_NO_ROUTE', id: m.id });
  });
});
