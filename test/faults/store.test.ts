import { afterEach, expect, it } from 'vitest';
import type { ErrFrame } from '../../core/generated/types.js';
import { type Message, request } from '../../core/message.js';
import type { Cluster, Location } from '../../server/services/service.js';
import { serviceOf } from '../support/backends.js';
import { JsonWsClient } from '../support/json-ws-client.js';
import { type TwoDomains, twoDomains } from '../support/node-fixture.js';
import { type RedisServer, startRedis, startReplica } from '../support/redis-server.js';

/**
 * A store that cannot take a message, against a real Redis: cluster-redis asks each held
 * message to reach one replica (`holdReplicas: 1`, Redis WAIT), and the Redis has none until
 * the test starts one. What the node cannot hold is refused to be sent again
 * (PF_ERR_UNAVAILABLE, a retryable code), never acknowledged, and the sender's order holds
 * across its sending again: what it sent after the refused one to the same recipient is
 * refused too until the refused one comes again.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const chat = (text: string) => request('create', ALICE, BOB, { value: { kind: 'chat', text } });

const stopped: { stop(): Promise<void> }[] = [];
let domains: TwoDomains | undefined;
afterEach(async () => {
  await domains?.close();
  domains = undefined;
  for (const s of stopped.splice(0).reverse()) await s.stop();
});

/** b.example's node on `redis`, holding for offline users only what one replica has too. */
async function nodeOn(redis: RedisServer): Promise<TwoDomains> {
  const config = { url: redis.url, prefix: 'store:' };
  const location = (await serviceOf('location', 'location-redis', config)) as Location;
  const cluster = (await serviceOf(
    'cluster',
    'cluster-redis',
    { ...config, holdReplicas: 1, holdReplicaTimeoutMs: 100 },
    { location },
  )) as Cluster;
  stopped.push({ stop: async () => void (await location.close?.()) });
  domains = await twoDomains({ location, cluster });
  return domains;
}

async function login(d: TwoDomains, user: string): Promise<JsonWsClient> {
  return JsonWsClient.ready(d.node.url, await d.token(user));
}

/** The node's answer to `m`: its ack, or its err. */
function outcome(client: JsonWsClient, m: Message) {
  return client.take((f) => (f.t === 'ack' && f.ids.includes(m.id)) || (f.t === 'err' && f.id === m.id));
}

/** The node's answers to `sent` after its first `from` answers, once it answered each of them. */
async function answersTo(client: JsonWsClient, sent: readonly Message[], from: number) {
  const ids = sent.map((m) => m.id);
  for (;;) {
    const got = client
      .answers()
      .slice(from)
      .filter((x) => ids.includes(x.id));
    if (ids.every((id) => got.some((x) => x.id === id))) return got;
    // Woken by the next answer (one ack frame may name several).
    await client.take((f) => f.t === 'ack' || f.t === 'err');
  }
}

it('refuses what it cannot hold to be sent again, keeps the order across the sending again, and holds it all once it can', async () => {
  const redis = await startRedis();
  stopped.push(redis);
  const d = await nodeOn(redis);
  const alice = await login(d, ALICE);
  // Bob is offline: each message must be held, and no hold reaches a replica.
  const [a, b, c] = [chat('a'), chat('b'), chat('c')];
  for (const m of [a, b, c]) alice.msg(m);
  const refused = [await outcome(alice, a), await outcome(alice, b), await outcome(alice, c)] as ErrFrame[];
  expect(refused[0]).toMatchObject({
    t: 'err',
    id: a.id,
    code: 'PF_ERR_UNAVAILABLE',
    message: expect.stringContaining('reached 0 of the 1 Redis replicas'),
  });
  for (const [i, m] of [b, c].entries()) {
    expect(refused[i + 1]).toMatchObject({
      t: 'err',
      id: m.id,
      code: 'PF_ERR_UNAVAILABLE',
      message: expect.stringContaining(`refused to keep order: ${a.id}, sent to ${BOB} before it`),
    });
  }

  // Sent again without the one that began the run: refused again, not held ahead of it.
  alice.msg(b);
  expect(await outcome(alice, b)).toMatchObject({
    code: 'PF_ERR_UNAVAILABLE',
    message: expect.stringContaining('refused to keep order'),
  });

  // A replica attaches: the same messages are sent again, in order, until each is held, as a
  // client does (json-ws): on a loaded machine a WAIT may miss the new replica's answer once more.
  stopped.push(await startReplica(redis));
  const refusedBefore = alice.answers().length;
  const held = new Set<string>();
  for (let round = 0; held.size < 3; round++) {
    expect(round, 'rounds of sending again before all three were held').toBeLessThan(50);
    const pending = [a, b, c].filter((m) => !held.has(m.id));
    const from = alice.answers().length;
    for (const m of pending) alice.msg(m);
    for (const x of await answersTo(alice, pending, from)) if (x.ok) held.add(x.id);
  }
  // Each acknowledged once, in the order sent; what was refused meanwhile was refused whole.
  expect(alice.answers().filter((x) => x.ok)).toEqual([a, b, c].map((m) => ({ id: m.id, ok: true })));
  expect(refusedBefore).toBe(4);

  const bob = await login(d, BOB);
  await bob.take((f) => f.t === 'msg' && f.m.id === c.id);
  // A hold whose WAIT found no replica was written on the master all the same: Bob gets such
  // copies too (his client drops them by key, at-least-once on the wire), each just before the
  // hold that was acknowledged, so the order holds. The first `a` was one.
  const order = [a.id, b.id, c.id];
  const got = bob.messages().map((m) => order.indexOf(m.id));
  expect(got.filter((i, n) => i !== got[n - 1])).toEqual([0, 1, 2]);
  expect(got.filter((i) => i === 0).length).toBeGreaterThanOrEqual(2);
});
