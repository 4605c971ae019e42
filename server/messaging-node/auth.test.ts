import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../../core/message.js';
import { JsonWsClient } from '../../test/support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../../test/support/node-fixture.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(() => domains?.close());

describe('messaging node: authentication', () => {
  it("admits a foreign user on a token its home domain's published keys verify", async () => {
    domains = await twoDomains();
    const alice = new JsonWsClient(domains.node.url);
    await alice.opened();
    expect(alice.ws.protocol).toBe('protofly.json-ws.v1');
    alice.send({ t: 'auth', token: await domains.token(ALICE) });
    expect(await alice.take((f) => f.t === 'ready')).toEqual({ t: 'ready', address: ALICE, hyperties: [] });
    expect(domains.keys.fetches).toBe(1);
  });

  it('refuses an invalid token with PF_ERR_AUTH and closes with 4401', async () => {
    domains = await twoDomains();
    const forged = await domains.b.issue(BOB, 300, 'c.example'); // right signer, wrong audience
    for (const token of ['garbage', forged]) {
      const client = new JsonWsClient(domains.node.url);
      await client.opened();
      client.send({ t: 'auth', token });
      const err = await client.take((f) => f.t === 'err');
      expect(err).toMatchObject({ t: 'err', code: 'PF_ERR_AUTH' });
      expect(await client.closed).toEqual({ code: 4401, reason: 'PF_ERR_AUTH' });
    }
    expect(domains.node.metrics.refused.get('PF_ERR_AUTH')).toBe(2);
  });

  it('refuses a token from a domain outside allowDomains with PF_ERR_FORBIDDEN and 4403', async () => {
    domains = await twoDomains({ allowDomains: ['c.example'] });
    const alice = new JsonWsClient(domains.node.url);
    await alice.opened();
    alice.send({ t: 'auth', token: await domains.token(ALICE) });
    expect(await alice.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FORBIDDEN',
      message: 'users of a.example are not admitted by b.example',
    });
    expect(await alice.closed).toEqual({ code: 4403, reason: 'PF_ERR_FORBIDDEN' });
    expect(domains.keys.fetches).toBe(0);
  });

  it('refuses a spoofed from with PF_ERR_SPOOF and keeps the connection', async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const spoof = chat(BOB, BOB, 'I am bob');
    alice.msg(spoof);
    expect(await alice.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_SPOOF',
      message: `${ALICE} may not send as ${BOB}`,
      id: spoof.id,
    });
    const honest = chat(ALICE, BOB, 'I am alice');
    alice.msg(honest);
    expect(await alice.take((f) => f.t === 'ack')).toEqual({ t: 'ack', ids: [honest.id] });
    expect((await bob.take((f) => f.t === 'msg')) as unknown).toEqual({ t: 'msg', m: honest });
    expect(bob.messages()).toEqual([honest]);
  });

  it("lets a user send from hyperty addresses of its own domain, never another user's", async () => {
    domains = await twoDomains();
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE));
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    const mine = chat('hyperty://a.example/alice-1', BOB);
    alice.msg(mine);
    expect(await alice.take((f) => f.t === 'ack' || f.t === 'err')).toEqual({ t: 'ack', ids: [mine.id] });
    for (const from of ['hyperty://b.example/x', 'runtime://a.example/r1']) {
      const m = chat(from, BOB);
      alice.msg(m);
      expect(await alice.take((f) => f.t === 'err')).toMatchObject({ code: 'PF_ERR_SPOOF', id: m.id });
    }
    // Bob is of b.example: alice's hyperty is not his to use, even once she has gone.
    await alice.close();
    const stolen = chat('hyperty://a.example/alice-1', ALICE);
    bob.msg(stolen);
    expect(await bob.take((f) => f.t === 'err')).toMatchObject({ code: 'PF_ERR_SPOOF', id: stolen.id });
  });

  it('gives a reconnecting user back its hyperty address and what was kept for it', async () => {
    domains = await twoDomains();
    const hyperty = 'hyperty://a.example/alice-1';
    const alice = await JsonWsClient.ready(domains.node.url, await domains.token(ALICE), [hyperty]);
    const bob = await JsonWsClient.ready(domains.node.url, await domains.token(BOB));
    await alice.close();
    const reply = chat(BOB, hyperty, 'while you were away');
    bob.msg(reply);
    await bob.take((f) => f.t === 'ack');
    const back = new JsonWsClient(domains.node.url);
    await back.opened();
    back.send({ t: 'auth', token: await domains.token(ALICE), hyperties: [hyperty] });
    expect(await back.take((f) => f.t === 'ready')).toEqual({
      t: 'ready',
      address: ALICE,
      hyperties: [hyperty],
    });
    expect((await back.take((f) => f.t === 'msg')) as unknown).toEqual({ t: 'msg', m: reply });
  });

  it('refuses messages before authentication, and cuts a client that never authenticates', async () => {
    domains = await twoDomains({ authTimeoutMs: 100 });
    const client = new JsonWsClient(domains.node.url);
    await client.opened();
    const early = chat(ALICE, BOB);
    client.msg(early);
    expect(await client.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_AUTH',
      message: `message ${early.id} sent before authenticating`,
      id: early.id,
    });
    // A time-out, not a refused token: 1008 lets the client connect again (4401 would stop it).
    expect(await client.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_TIMEOUT',
      message: 'not authenticated within 100 ms',
    });
    expect(await client.closed).toEqual({ code: 1008, reason: 'PF_ERR_TIMEOUT' });
  });
});
