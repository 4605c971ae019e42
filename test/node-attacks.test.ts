import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ErrFrame, JsonWsFrame } from '../core/generated/types.js';
import { validateDomainConfig } from '../core/generated/validators.js';
import { type Message, request } from '../core/message.js';
import { Policy } from '../server/policy/policy.js';
import { MemoryLocation } from '../server/services/memory-location.js';
import type { Location } from '../server/services/service.js';
import { JsonWsClient } from './support/json-ws-client.js';
import { type TwoDomains, twoDomains } from './support/node-fixture.js';

/**
 * Attacks on the messaging node through its client port: frames no parser should choke on,
 * frames that get past the parser and still throw, sockets that never authenticate, and a
 * sender over its rate that must not lose its order. After each, the node still serves a
 * neighbouring pair.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const EVE = 'user://b.example/eve';
const chat = (from: string, to: string, text = 'hi') =>
  request('create', from, to, { value: { kind: 'chat', text } });

let domains: TwoDomains;
afterEach(() => {
  vi.useRealTimers();
  return domains?.close();
});

/**
 * Connects from `localAddress` (any of 127/8 on Linux) and authenticates as `user`, claiming
 * `hyperties`.
 */
async function login(user: string, localAddress = '127.0.0.1', hyperties?: string[]): Promise<JsonWsClient> {
  const client = new JsonWsClient(domains.node.url, { localAddress });
  await client.opened();
  client.send({ t: 'auth', token: await domains.token(user), hyperties });
  await client.take((f) => f.t === 'ready');
  return client;
}

/** A connection that never says a word, from `localAddress`. */
async function silent(localAddress = '127.0.0.1'): Promise<JsonWsClient> {
  const client = new JsonWsClient(domains.node.url, { localAddress });
  await client.opened();
  return client;
}

/** Alice (a.example) and Bob (b.example), authenticated: the neighbours every attack must spare. */
async function neighbours(): Promise<{ alice: JsonWsClient; bob: JsonWsClient }> {
  return { alice: await login(ALICE, '127.0.0.20'), bob: await login(BOB, '127.0.0.21') };
}

/** Alice's message reaches Bob and is acknowledged: the node serves on. */
async function roundTrip({ alice, bob }: { alice: JsonWsClient; bob: JsonWsClient }): Promise<void> {
  const m = chat(ALICE, BOB, 'still here');
  alice.msg(m);
  await bob.take((f) => f.t === 'msg' && f.m.id === m.id);
  await alice.take((f) => f.t === 'ack' && f.ids.includes(m.id));
}

/** A `msg` frame's text whose body value is `value` (JSON text, written as is). */
function msgText(from: string, to: string, value: string, id = 'x1'): string {
  return `{"t":"msg","m":{"id":"${id}","type":"create","from":"${from}","to":"${to}","body":{"value":${value}}}}`;
}

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** The answer to message `id`, or how the connection ended first. */
function outcome(client: JsonWsClient, id: string): Promise<JsonWsFrame | { closed: number }> {
  return Promise.race([
    client.take((f) => (f.t === 'ack' && f.ids.includes(id)) || (f.t === 'err' && f.id === id), 30_000),
    client.closed.then((c) => ({ closed: c.code })),
  ]);
}

async function metricsText(): Promise<string> {
  return (await fetch(`${domains.node.adminUrl}/metrics`)).text();
}

/** Location with lookups that answer later, as a shared one (Redis) does: frames then finish off the stack they came on. */
function laterLookups(inner: Location): Location {
  return {
    scope: inner.scope,
    register: (reg) => inner.register(reg),
    unregister: (address, session) => inner.unregister(address, session),
    lookup: async (address) => inner.lookup(address),
  };
}

describe('messaging node attacks: nesting', () => {
  it('refuses the 12 KB frame nesting arrays 6000 deep before parsing it, naming depth and limit, and serves on', async () => {
    domains = await twoDomains();
    const pair = await neighbours();
    const eve = await login(EVE);
    const deep = msgText(EVE, BOB, nested(6000));
    expect(deep.length).toBeGreaterThan(12_000);
    eve.send(deep);
    expect(await eve.take((f) => f.t === 'err')).toEqual({
      t: 'err',
      code: 'PF_ERR_FRAME',
      message: 'JSON nested 6003 deep, over the limit of 64 (maxJsonDepth)',
    });
    // Brackets inside strings, escaped quotes included, are not nesting.
    const inString = chat(EVE, BOB, `\\" ${'['.repeat(5000)}`);
    eve.msg(inString);
    expect(await outcome(eve, inString.id)).toEqual({ t: 'ack', ids: [inString.id] });
    await roundTrip(pair);
    expect(domains.node.metrics.contained).toBe(0);
  });

  it('takes a frame at the depth limit and refuses one a level deeper', async () => {
    domains = await twoDomains({ maxJsonDepth: 10 });
    const eve = await login(EVE);
    // The frame, m, body and the value's own levels: 3 + 7 = 10.
    eve.send(msgText(EVE, EVE, nested(7), 'at'));
    expect(await outcome(eve, 'at')).toEqual({ t: 'ack', ids: ['at'] });
    eve.send(msgText(EVE, EVE, nested(8), 'over'));
    expect(await eve.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FRAME',
      message: 'JSON nested 11 deep, over the limit of 10 (maxJsonDepth)',
    });
  });
});

describe('messaging node attacks: bytes', () => {
  it('reads a connection no faster than its bytes a second, so its large frames cannot hold the node, and answers every one of them in order', async () => {
    domains = await twoDomains({ bytesPerSecond: 50_000 });
    const pair = await neighbours();
    const eve = await login(EVE);
    // Arrays of small values cost the most to parse per byte: 30 KB frames, 300 KB in all,
    // against a budget of 100 KB at once and 50 KB a second after.
    const value = `[${Array(15_000).fill('1').join(',')}]`;
    const ids = Array.from({ length: 10 }, (_, i) => `big${i}`);
    for (const id of ids) eve.send(msgText(EVE, EVE, value, id));
    const acked: string[] = [];
    const nextAck = async () => {
      const ack = await eve.take((f) => f.t === 'ack', 15_000);
      acked.push(...(ack as { ids: string[] }).ids);
    };
    await nextAck();
    // The node stopped reading Eve's socket (her frames wait in TCP) and serves the others.
    await roundTrip(pair);
    while (acked.length < ids.length) await nextAck();
    expect(acked).toEqual(ids);
    expect(domains.node.metrics.readPauses).toBeGreaterThan(0);
    expect(await metricsText()).toMatch(/^protofly_node_read_pauses_total [1-9]/m);
    expect(domains.node.metrics.contained).toBe(0);
  }, 30_000);
});

describe('messaging node attacks: containment', () => {
  for (const [path, location] of [
    ['on the stack of the frame', undefined],
    ['after an asynchronous lookup', () => laterLookups(new MemoryLocation())],
  ] as const) {
    it(`closes only the session whose frame throws ${path} (1011, PF_ERR_INTERNAL), counts it, and serves on`, async () => {
      // The depth bound lifted, the deep frame gets through to delivery, where encoding it
      // again overflows the stack: what the guard must contain.
      domains = await twoDomains({ maxJsonDepth: 1_000_000, ...(location ? { location: location() } : {}) });
      const pair = await neighbours();
      const eve = await login(EVE);
      eve.send(msgText(EVE, BOB, nested(20_000)));
      expect(await eve.take((f) => f.t === 'err')).toMatchObject({
        code: 'PF_ERR_INTERNAL',
        message: expect.stringContaining('RangeError'),
      });
      expect(await eve.closed).toEqual({ code: 1011, reason: 'PF_ERR_INTERNAL' });
      await roundTrip(pair);
      expect(pair.bob.messages().map((m) => m.from)).toEqual([ALICE]);
      const text = await metricsText();
      expect(text).toContain('protofly_node_sessions_failed_total 1\n');
      expect(text).toContain('protofly_node_refused_total{code="PF_ERR_INTERNAL"} 1');
    });
  }

  it('contains a throwing group fan-out to the sender, the other members kept', async () => {
    domains = await twoDomains({ maxJsonDepth: 1_000_000 });
    const group = 'domain://msg-node.b.example/group/g';
    const pair = await neighbours();
    const eve = await login(EVE);
    for (const [client, user] of [
      [eve, EVE],
      [pair.bob, BOB],
    ] as const) {
      const s = request('subscribe', user, group, {});
      client.msg(s);
      await client.take((f) => f.t === 'ack' && f.ids.includes(s.id));
    }
    eve.send(
      `{"t":"msg","m":{"id":"g1","type":"update","from":"${EVE}","to":"${group}","body":{"value":${nested(20_000)}}}}`,
    );
    expect(await eve.closed).toEqual({ code: 1011, reason: 'PF_ERR_INTERNAL' });
    await roundTrip(pair);
    expect(domains.node.metrics.contained).toBe(1);
  });
});

/** One frame an attacker sends: text (maybe not UTF-8) or binary bytes. */
type Payload = { text: string } | { bytes: Uint8Array; binary: boolean };

const validMsg = (from: string) => ({ t: 'msg', m: chat(from, BOB, 'fuzz') });
const validAuth = { t: 'auth', token: 'x.y.z', hyperties: ['hyperty://b.example/h1'], receipts: true };
const validReceived = { t: 'received', n: 1 };

/** Sets `value` at `path` in a copy of `frame` (or deletes it, for undefined). */
function withField(frame: object, path: readonly string[], value: unknown): object {
  const copy = structuredClone(frame) as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) return copy;
    at = at[key] as Record<string, unknown>;
  }
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

const FIELDS: readonly (readonly string[])[] = [
  ['t'],
  ['m'],
  ['m', 'id'],
  ['m', 'type'],
  ['m', 'from'],
  ['m', 'to'],
  ['m', 'body'],
  ['m', 'body', 'value'],
  ['token'],
  ['hyperties'],
  ['receipts'],
  ['n'],
];

const text = (s: fc.Arbitrary<string>): fc.Arbitrary<Payload> => s.map((t) => ({ text: t }));

/** Frames of every kind of wrong, for a sender whose address is `from`. */
function payloads(from: string): fc.Arbitrary<Payload> {
  return fc.oneof(
    // Deep, as arrays or objects, at the top or in a message's value.
    text(
      fc
        .record({ depth: fc.integer({ min: 1, max: 8000 }), objects: fc.boolean(), inMsg: fc.boolean() })
        .map(({ depth, objects, inMsg }) => {
          const value = objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : nested(depth);
          return inMsg ? msgText(from, BOB, value) : value;
        }),
    ),
    // Wide: many members or items, within the frame size.
    text(
      fc
        .record({ n: fc.integer({ min: 1, max: 9000 }), objects: fc.boolean() })
        .map(({ n, objects }) =>
          msgText(
            from,
            BOB,
            objects
              ? `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}`
              : `[${'0,'.repeat(n)}0]`,
          ),
        ),
    ),
    // Huge: over maxFrameBytes.
    text(fc.integer({ min: 64 * 1024 + 1, max: 200_000 }).map((n) => 'x'.repeat(n))),
    // Bytes, sent as text (often not UTF-8) or as binary.
    fc.record({ bytes: fc.uint8Array({ maxLength: 300 }), binary: fc.boolean() }),
    // Duplicate keys: the last one wins in JSON.parse, and the node encodes again what it parsed.
    text(
      fc
        .constantFrom('"t":"auth"', `"from":"${BOB}"`, '"type":"delete"', '"m":null')
        .map((dup) => JSON.stringify(validMsg(from)).replace(/}}$/, `,${dup}}}`)),
    ),
    // __proto__ and constructor keys, at the frame, the message and in the value.
    text(
      fc
        .constantFrom(
          '{"t":"msg","__proto__":{"polluted":1},"m":M}',
          '{"t":"msg","m":M,"constructor":{"prototype":{"polluted":1}}}',
        )
        .map((shape) => shape.replace('M', JSON.stringify(chat(from, BOB)))),
    ),
    text(
      fc
        .constantFrom('{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}')
        .map((value) => msgText(from, BOB, value)),
    ),
    // Each field of each client frame, wrong: any JSON in its place, or missing.
    text(
      fc
        .record({
          frame: fc.constantFrom<object>(validMsg(from), validAuth, validReceived),
          path: fc.constantFrom(...FIELDS),
          value: fc.option(fc.jsonValue({ maxDepth: 4 }), { nil: undefined }),
        })
        .map(({ frame, path, value }) => JSON.stringify(withField(frame, path, value))),
    ),
    // Any JSON at all, and any text.
    text(fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? 'null')),
    text(fc.string({ unit: 'binary', maxLength: 200 })),
  );
}

describe('messaging node attacks: fuzzed frames', () => {
  it('answers every fuzzed frame with a code or a close, before and after auth, and serves its neighbours after each', async () => {
    domains = await twoDomains();
    const pair = await neighbours();
    const cases = fc.record({
      authenticated: fc.boolean(),
      frames: fc.array(payloads(EVE), { minLength: 1, maxLength: 3 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ({ authenticated, frames }) => {
        const eve = authenticated ? await login(EVE) : await silent();
        for (const p of frames) {
          if ('text' in p) eve.send(p.text);
          else eve.ws.send(p.bytes, { binary: p.binary });
        }
        // The node answers in order: once this is answered, every frame before it was handled.
        const sentinel = chat(EVE, EVE, `sentinel ${++n}`);
        eve.msg(sentinel);
        const end = await outcome(eve, sentinel.id);
        if ('closed' in end) expect([1007, 1008, 1009, 4401]).toContain(end.closed);
        for (const f of eve.frames) {
          if (f.t === 'err')
            expect(f.code).toMatch(/^PF_ERR_(FRAME|SCHEMA|AUTH|SPOOF|FLOOD|NO_ROUTE|FORBIDDEN)$/);
        }
        await eve.close();
        await roundTrip(pair);
      }),
      { numRuns: 150 },
    );
    expect(domains.node.metrics.contained).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Nothing Eve sent reached Bob but well-formed messages from her own address.
    expect(pair.bob.messages().every((m: Message) => m.from === ALICE || m.from === EVE)).toBe(true);
  }, 120_000);
});

describe('messaging node attacks: connections that do not authenticate', () => {
  it('bounds silent sockets from one address apart from maxConnections: the users still get in', async () => {
    domains = await twoDomains({ maxConnections: 2, maxPendingAuthPerAddress: 4, authTimeoutMs: 60_000 });
    const silents = await Promise.all(Array.from({ length: 4 }, () => silent()));
    expect(domains.node.pendingAuth).toBe(4);
    const fifth = new JsonWsClient(domains.node.url);
    expect(await fifth.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('the limit for one address (maxPendingAuthPerAddress)'),
    });
    expect(await fifth.closed).toEqual({ code: 1013, reason: 'PF_ERR_FLOOD' });
    // A slot is free again once a silent socket is gone.
    await silents[0]!.close();
    await vi.waitFor(() => expect(domains.node.pendingAuth).toBe(3), { timeout: 10_000 });
    await silent();
    expect(domains.node.pendingAuth).toBe(4);
    // Four sockets authenticating take none of the two places of authenticated users.
    const pair = await neighbours();
    await roundTrip(pair);
    const third = new JsonWsClient(domains.node.url, { localAddress: '127.0.0.30' });
    expect(await third.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: 'node is at its limit of 2 connections',
    });
  });

  it('bounds silent sockets from many addresses together, and the authenticated pair is spared', async () => {
    domains = await twoDomains({ maxPendingAuth: 6, maxPendingAuthPerAddress: 2, authTimeoutMs: 60_000 });
    const pair = await neighbours();
    await Promise.all(Array.from({ length: 6 }, (_, i) => silent(`127.0.0.${40 + i}`)));
    const late = new JsonWsClient(domains.node.url, { localAddress: '127.0.0.50' });
    expect(await late.take((f) => f.t === 'err')).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: "6 connections are authenticating, the node's limit (maxPendingAuth 6)",
    });
    expect(await late.closed).toEqual({ code: 1013, reason: 'PF_ERR_FLOOD' });
    await roundTrip(pair);
    expect(domains.node.connections).toBe(8);
  });

  it('closes a socket silent past authTimeoutMs (1008, PF_ERR_TIMEOUT), and its place is free', async () => {
    domains = await twoDomains({ authTimeoutMs: 200, maxPendingAuth: 3 });
    const silents = await Promise.all(Array.from({ length: 3 }, (_, i) => silent(`127.0.0.${60 + i}`)));
    for (const s of silents) {
      expect(await s.take((f) => f.t === 'err')).toMatchObject({
        code: 'PF_ERR_TIMEOUT',
        message: 'not authenticated within 200 ms',
      });
      expect(await s.closed).toEqual({ code: 1008, reason: 'PF_ERR_TIMEOUT' });
    }
    expect(domains.node.pendingAuth).toBe(0);
    await roundTrip(await neighbours());
  });
});

describe('messaging node attacks: policy through a hyperty address', () => {
  it("refuses a message to a user's hyperty address as the policy refuses one to the user, and one to a hyperty no session holds", async () => {
    const bobsHyperty = 'hyperty://b.example/bob-phone';
    domains = await twoDomains({
      policy: new Policy('b.example', {
        rules: [{ name: 'not-bob', action: 'deny', from: [EVE], to: [BOB] }],
      }),
    });
    const bob = await login(BOB, '127.0.0.80', [bobsHyperty]);
    const eve = await login(EVE, '127.0.0.81');
    const alice = await login(ALICE, '127.0.0.82');
    // Eve knows Bob's hyperty address (he wrote to her from it once): its domain is no way past the rule.
    const sneak = chat(EVE, bobsHyperty, 'around the rule');
    eve.msg(sneak);
    expect(await outcome(eve, sneak.id)).toMatchObject({
      t: 'err',
      code: 'PF_ERR_FORBIDDEN',
      message: `${EVE} may not reach ${bobsHyperty} with chat: refused by policy rule 'not-bob'`,
    });
    // Where the node knows no user for it, it fails closed.
    const unknown = chat(EVE, 'hyperty://b.example/nobodys', 'anyone?');
    eve.msg(unknown);
    expect(await outcome(eve, unknown.id)).toMatchObject({
      t: 'err',
      code: 'PF_ERR_FORBIDDEN',
      message: expect.stringContaining('its user is not known'),
    });
    // Those the rule does not name still reach him there.
    const fine = chat(ALICE, bobsHyperty, 'hello phone');
    alice.msg(fine);
    expect(await outcome(alice, fine.id)).toEqual({ t: 'ack', ids: [fine.id] });
    await bob.take((f) => f.t === 'msg' && f.m.id === fine.id);
    expect(bob.messages().map((m) => m.id)).toEqual([fine.id]);
    expect(domains.node.metrics.contained).toBe(0);
  });

  it('decides a hyperty recipient as its user after an asynchronous lookup too (a shared Location)', async () => {
    const bobsHyperty = 'hyperty://b.example/bob-laptop';
    domains = await twoDomains({
      location: laterLookups(new MemoryLocation()),
      policy: new Policy('b.example', {
        groups: { private: [BOB] },
        rules: [{ name: 'private', action: 'deny', from: ['user://a.example/*'], to: ['group:private'] }],
      }),
    });
    const bob = await login(BOB, '127.0.0.83', [bobsHyperty]);
    const alice = await login(ALICE, '127.0.0.84');
    const eve = await login(EVE, '127.0.0.85');
    const sneak = chat(ALICE, bobsHyperty);
    alice.msg(sneak);
    expect(await outcome(alice, sneak.id)).toMatchObject({ code: 'PF_ERR_FORBIDDEN', id: sneak.id });
    const fine = chat(EVE, bobsHyperty);
    eve.msg(fine);
    expect(await outcome(eve, fine.id)).toEqual({ t: 'ack', ids: [fine.id] });
    await bob.take((f) => f.t === 'msg' && f.m.id === fine.id);
    expect(bob.messages().map((m) => m.id)).toEqual([fine.id]);
  });
});

describe('messaging node: order under refusals', () => {
  it('refuses the rest of a run to a recipient after one refusal, so that in-order retries keep the order', async () => {
    domains = await twoDomains({ messagesPerSecond: 200, burst: 100 });
    // The rate's clock (performance.now) moves only between rounds: each round has exactly the
    // tokens its pause refilled, whatever the machine's load (on real time a slow node refused nothing).
    vi.useFakeTimers({ toFake: ['performance'] });
    const alice = await login(ALICE, '127.0.0.70');
    const bob = await login(BOB, '127.0.0.71');
    const sent = Array.from({ length: 600 }, (_, i) => chat(ALICE, BOB, `m${i}`));
    let pending = sent;
    let rounds = 0;
    let answered = 0;
    // A client that sends again what was refused, in order, after a pause (its back-off).
    while (pending.length) {
      if (rounds++) vi.advanceTimersByTime(100);
      for (const m of pending) alice.msg(m);
      await outcome(alice, pending.at(-1)!.id);
      const answers = alice.answers().slice(answered);
      answered += answers.length;
      const refused = new Set(answers.filter((a) => !a.ok).map((a) => a.id));
      // The refusals of a round are one run: none accepted after the first refused.
      const first = answers.findIndex((a) => !a.ok);
      if (first >= 0) expect(answers.slice(first).every((a) => !a.ok)).toBe(true);
      pending = pending.filter((m) => refused.has(m.id));
    }
    expect(rounds).toBeGreaterThan(1);
    await bob.take((f) => f.t === 'msg' && f.m.id === sent.at(-1)!.id, 30_000);
    expect(bob.messages().map((m) => m.id)).toEqual(sent.map((m) => m.id));
    const errs = alice.frames.filter((f): f is ErrFrame => f.t === 'err');
    expect(errs[0]).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining('over 200 messages/s'),
    });
    expect(errs[1]).toMatchObject({
      code: 'PF_ERR_FLOOD',
      message: expect.stringContaining(`refused to keep order: ${errs[0]!.id}, sent to ${BOB} before it`),
    });
  });

  it('holds back only the recipient whose message was refused', async () => {
    // A token a quarter of an hour: nothing refills while the test runs.
    domains = await twoDomains({ messagesPerSecond: 0.001, burst: 2 });
    const alice = await login(ALICE, '127.0.0.72');
    const bob = await login(BOB, '127.0.0.73');
    const [a, b, c] = [chat(ALICE, BOB, 'a'), chat(ALICE, BOB, 'b'), chat(ALICE, BOB, 'c')];
    for (const m of [a, b, c]) alice.msg(m);
    expect(await outcome(alice, c.id)).toMatchObject({ code: 'PF_ERR_FLOOD', id: c.id });
    const toBob = chat(ALICE, BOB, 'd');
    const toSelf = chat(ALICE, ALICE, 'e');
    alice.msg(toBob);
    alice.msg(toSelf);
    expect(await outcome(alice, toBob.id)).toMatchObject({
      message: expect.stringContaining(`refused to keep order: ${c.id}`),
    });
    // Refused for the rate, not held back behind Bob's run.
    expect(await outcome(alice, toSelf.id)).toMatchObject({
      message: expect.stringContaining('over 0.001 messages/s'),
    });
    await bob.take((f) => f.t === 'msg' && f.m.id === b.id);
    expect(bob.messages().map((m) => m.id)).toEqual([a.id, b.id]);
  });
});

describe("domain config: the node's bounds and group policy", () => {
  it('takes limits.maxJsonDepth, bytesPerSecond, maxPendingAuth, maxPendingAuthPerAddress, authTimeoutMs and groups, within bounds', () => {
    const config = (extra: object) => ({ domain: 'b.example', ...extra });
    expect(
      validateDomainConfig(
        config({
          limits: {
            maxJsonDepth: 64,
            bytesPerSecond: 409_600,
            maxPendingAuth: 1024,
            maxPendingAuthPerAddress: 32,
            authTimeoutMs: 5000,
          },
          groups: { subscribe: 'members', foreignDomains: ['a.example'] },
        }),
      ),
    ).toBe(true);
    for (const wrong of [
      { limits: { maxJsonDepth: 100_000 } },
      { limits: { bytesPerSecond: 100 } },
      { limits: { maxPendingAuth: 0 } },
      { limits: { authTimeoutMs: 10 } },
      { groups: { subscribe: 'everyone' } },
      { groups: { foreignDomains: ['not a domain'] } },
    ]) {
      expect(validateDomainConfig(config(wrong))).toBe(false);
    }
  });
});
