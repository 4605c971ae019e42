import { afterEach, describe, expect, it } from 'vitest';
import { type Message, request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';

const GROUP = 'domain://msg-node.b.example/group/room1';
const user = (i: number) => `user://b.example/u${i}`;
const subscribe = (from: string) => request('subscribe', from, GROUP, {});
const update = (from: string, text: string) =>
  request('update', from, GROUP, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(() => domains?.close());

async function members(n: number): Promise<JsonWsClient[]> {
  const clients = await Promise.all(
    Array.from({ length: n }, async (_, i) =>
      JsonWsClient.ready(domains.node.url, await domains.token(user(i))),
    ),
  );
  await Promise.all(
    clients.map(async (c, i) => {
      const s = subscribe(user(i));
      c.msg(s);
      await c.take((f) => f.t === 'ack' && f.ids.includes(s.id));
    }),
  );
  return clients;
}

const texts = (c: JsonWsClient) =>
  c.messages().map((m: Message) => (m.body as { value: { text: string } }).value.text);

describe('messaging node: group conversations', () => {
  it('fans every update out to all other members, in order, none lost', async () => {
    domains = await twoDomains({ maxConnections: 500 });
    const clients = await members(200);
    const sent = Array.from({ length: 30 }, (_, i) => update(user(0), `u${i}`));
    for (const m of sent) clients[0]!.msg(m);
    await clients[0]!.take((f) => f.t === 'ack' && f.ids.includes(sent[29]!.id));
    await Promise.all(clients.slice(1).map((c) => c.take((f) => f.t === 'msg' && f.m.id === sent[29]!.id)));
    for (const c of clients.slice(1)) expect(texts(c)).toEqual(sent.map((_, i) => `u${i}`));
    expect(clients[0]!.messages()).toEqual([]);
  });

  it('refuses a post from a non-member, and stops delivering after unsubscribe', async () => {
    domains = await twoDomains();
    const [a, b] = await members(2);
    const outsider = await JsonWsClient.ready(domains.node.url, await domains.token(user(9)));
    const post = update(user(9), 'let me in');
    outsider.msg(post);
    expect(await outsider.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      id: post.id,
    });
    const leave = request('unsubscribe', user(1), GROUP, {});
    b!.msg(leave);
    await b!.take((f) => f.t === 'ack' && f.ids.includes(leave.id));
    const after = update(user(0), 'after');
    a!.msg(after);
    await a!.take((f) => f.t === 'ack' && f.ids.includes(after.id));
    const ping = request('create', user(0), user(1), { value: { kind: 'chat', text: 'direct' } });
    a!.msg(ping);
    await b!.take((f) => f.t === 'msg' && f.m.id === ping.id);
    expect(texts(b!)).toEqual(['direct']);
  });

  it('tells and drops a slow consumer while the other members get everything', async () => {
    domains = await twoDomains({
      maxBufferedBytes: 64 * 1024,
      messagesPerSecond: 100_000,
      maxFrameBytes: 1024 * 1024,
      // It reads again only after the others got everything, however long that takes here.
      closeGraceMs: 600_000,
    });
    const clients = await members(3);
    const slow = clients[2]!;
    // The slow consumer stops reading: the kernel's buffers fill, then the node's.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(8000);
    const sent = Array.from({ length: 2500 }, (_, i) => update(user(0), `${i}:${big}`));
    // Paced by acknowledgements, as a client with a window sends: a reading member never lags far.
    for (let i = 0; i < sent.length; i += 50) {
      for (const m of sent.slice(i, i + 50)) clients[0]!.msg(m);
      const id = sent[Math.min(i + 49, sent.length - 1)]!.id;
      await clients[0]!.take((f) => f.t === 'ack' && f.ids.includes(id), 30_000);
    }
    const last = sent.at(-1)!.id;
    await clients[1]!.take((f) => f.t === 'msg' && f.m.id === last, 30_000);
    expect(clients[1]!.messages()).toHaveLength(sent.length);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/slow consumer/);
    expect(slow.frames.find((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('slow consumer'),
    });
    expect(slow.messages().length).toBeLessThan(sent.length);
  }, 60_000);
});

describe('messaging node: group owners and membership', () => {
  const ALICE = 'user://a.example/alice';
  const members = (from: string, change: { add?: string[]; remove?: string[] }) =>
    request('update', from, GROUP, { value: { kind: 'members', ...change } });

  /** Sends `m` and resolves with its answer: the ack, or the err naming it. */
  async function answer(c: JsonWsClient, m: Message) {
    c.msg(m);
    return c.take((f) => (f.t === 'ack' && f.ids.includes(m.id)) || (f.t === 'err' && f.id === m.id));
  }
  const login = async (u: string) => JsonWsClient.ready(domains.node.url, await domains.token(u));
  const ok = (m: Message) => ({ t: 'ack', ids: [m.id] });

  it("admits only the node's own domain by default, and foreign domains the policy names", async () => {
    domains = await twoDomains();
    const alice = await login(ALICE);
    expect(await answer(alice, subscribe(ALICE))).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: "users of a.example may not join this node's groups (groups policy)",
    });
    await domains.close();
    domains = await twoDomains({ groups: { foreignDomains: ['a.example'] } });
    const again = await login(ALICE);
    const s = subscribe(ALICE);
    expect(await answer(again, s)).toEqual(ok(s));
  });

  it("with subscribe 'members': the creator owns the group, and only it lets users in or out", async () => {
    domains = await twoDomains({ groups: { subscribe: 'members' } });
    const [owner, u1] = [await login(user(0)), await login(user(1))];
    const created = subscribe(user(0));
    expect(await answer(owner, created)).toEqual(ok(created));
    expect(await answer(u1, subscribe(user(1)))).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: `${user(1)} is not a member of ${GROUP}; its owner adds members`,
    });
    expect(await answer(u1, members(user(1), { add: [user(1)] }))).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: `${user(1)} does not own ${GROUP}; only its owner changes its members`,
    });
    const add = members(user(0), { add: [user(1)] });
    expect(await answer(owner, add)).toEqual(ok(add));
    const joined = subscribe(user(1));
    expect(await answer(u1, joined)).toEqual(ok(joined));
    const hello = update(user(0), 'hello');
    expect(await answer(owner, hello)).toEqual(ok(hello));
    await u1.take((f) => f.t === 'msg' && f.m.id === hello.id);
    // Out: no more updates, and no way back in until added again.
    const remove = members(user(0), { remove: [user(1)] });
    expect(await answer(owner, remove)).toEqual(ok(remove));
    expect(await answer(u1, update(user(1), 'still here?'))).toMatchObject({ code: 'PF_ERR_FORBIDDEN' });
    expect(await answer(u1, subscribe(user(1)))).toMatchObject({ code: 'PF_ERR_FORBIDDEN' });
    const after = update(user(0), 'after');
    expect(await answer(owner, after)).toEqual(ok(after));
    expect(texts(u1)).toEqual(['hello']);
    expect(await answer(owner, members(user(0), { remove: [user(0)] }))).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: `${user(0)} owns ${GROUP} and cannot be removed`,
    });
    expect(await answer(owner, members(user(0), { add: [ALICE] }))).toMatchObject({
      code: 'PF_ERR_FORBIDDEN',
      message: `${ALICE}: users of its domain may not join this node's groups (groups policy)`,
    });
    expect(await answer(owner, members(user(0), { add: ['bob'] }))).toMatchObject({
      code: 'PF_ERR_SCHEMA',
      message: expect.stringContaining('members body: /add/0'),
    });
    // The members body is the owner's word to the node, not an update for the members.
    expect(u1.messages().some((m) => (m.body as { value: { kind: string } }).value.kind === 'members')).toBe(
      false,
    );
  });

  it('bounds the groups one connection joins (each costs memory until its last subscriber leaves)', async () => {
    domains = await twoDomains({ messagesPerSecond: 10_000 });
    const u0 = await login(user(0));
    const joins = Array.from({ length: 257 }, (_, i) =>
      request('subscribe', user(0), `domain://msg-node.b.example/group/g${i}`, {}),
    );
    for (const j of joins) u0.msg(j);
    const last = joins.at(-1)!;
    expect(await u0.take((f) => f.t === 'err' && f.id === last.id)).toMatchObject({
      code: 'PF_ERR_TOO_LARGE',
      message: `${user(0)} has joined 256 groups on this connection, the limit`,
    });
    expect(u0.answers().filter((a) => a.ok)).toHaveLength(256);
  });

  it("with the default policy, the owner's removal keeps a user out; the group ends with its last subscriber", async () => {
    domains = await twoDomains({ maxGroupSize: 3 });
    const [owner, u1, u2] = [await login(user(0)), await login(user(1)), await login(user(2))];
    for (const [c, i] of [
      [owner, 0],
      [u1, 1],
    ] as const) {
      const s = subscribe(user(i));
      expect(await answer(c, s)).toEqual(ok(s));
    }
    const remove = members(user(0), { remove: [user(1)] });
    expect(await answer(owner, remove)).toEqual(ok(remove));
    expect(await answer(u1, subscribe(user(1)))).toMatchObject({ code: 'PF_ERR_FORBIDDEN' });
    expect(await answer(owner, members(user(0), { add: [user(2), user(3), user(4)] }))).toMatchObject({
      code: 'PF_ERR_TOO_LARGE',
      message: `${GROUP} would have 4 members listed, over its limit of 3`,
    });
    const leave = request('unsubscribe', user(0), GROUP, {});
    expect(await answer(owner, leave)).toEqual(ok(leave));
    // Nobody left: the next subscriber makes the group anew and owns it.
    const s2 = subscribe(user(2));
    expect(await answer(u2, s2)).toEqual(ok(s2));
    const back = members(user(2), { add: [user(1)] });
    expect(await answer(u2, back)).toEqual(ok(back));
    const s1 = subscribe(user(1));
    expect(await answer(u1, s1)).toEqual(ok(s1));
  });
});
