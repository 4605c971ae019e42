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
