// Over 400 lines, for one thing: the properties every stub is held to (Hono-style conformance),
// one list read top to bottom, each a title and a plain async check; the context, the hostile
// frames and the hostile server they use are apart (conformance-context.ts and the others).
import { Ajv2020 } from 'ajv/dist/2020.js';
import { type Message, request, response } from '../../../core/message.js';
import type { Activate, StubStatus } from '../../../core/stub.js';
import { assertSafeSchema, MAX_SCHEMA_BOUNDS } from '../../../runtime/safe-schema.js';
import { DirectSession } from '../direct-context.js';
import { runtimeImports } from './bundle-imports.js';
import { type ContextSettings, type Instance, Instances } from './conformance-context.js';
import { fastCheck, hostileFrames } from './hostile-frames.js';
import { type HostileScript, startHostileServer } from './hostile-server.js';

export type { ContextSettings } from './conformance-context.js';
export type { HostileScript } from './hostile-server.js';

/**
 * `stubConformance`: what every stub does, checked by one suite that each stub runs with its
 * own server (in the shape of Hono's shared router tests). Each property is a plain async
 * function of the options ({@link stubProperties}), so a test can run one directly and see it
 * fail; `stubConformance` registers each as one test named after it.
 */

/** The server the stub speaks to, started for one property and closed after it. */
export interface ConformanceServer {
  /**
   * Restarts the server where it was: the stubs' sockets die, and they must come back. When
   * absent, the reconnection property only kills the stubs' sockets.
   */
  restart?(): Promise<void>;
  close(): Promise<void>;
}

/** A stub's manifest (its protofly.json), as far as the suite reads it. */
export interface ConformanceManifest {
  readonly name?: string;
  /** `chat`, `call`, `presence`: a stub offering calls says `call`. */
  readonly capabilities?: readonly string[];
  readonly configuration?: {
    readonly schema: unknown;
    readonly defaults?: Readonly<Record<string, unknown>>;
  };
}

/** The test framework's functions the suite uses: vitest's (`{ describe, it, timers: vi }`) or jest's. */
export interface TestRunner {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
  /** Its fake clock, for a property that runs a stub's protocol timers at once: vitest's `vi`, jest's `jest`. */
  readonly timers: {
    useFakeTimers(config?: {
      toFake?: ('setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'Date')[];
    }): unknown;
    advanceTimersByTime(ms: number): unknown;
    useRealTimers(): unknown;
  };
}

/** A server that brings the stub live and then misbehaves; see {@link HostileScript}. */
export interface HostileOptions extends HostileScript {
  /** Well-formed frames a server of the stub's protocol sends: the suite mutates them. */
  readonly samples: readonly string[];
  /** The context settings that point the stub at the hostile server's `url`. */
  context(url: string, address: string): ContextSettings;
  /** fast-check's seed, to replay a failure (its message gives the seed). Default: a new one each run. */
  readonly seed?: number;
}

/**
 * What `stubConformance` needs to know of a stub: its code, its manifest and bundle, a real
 * server of its protocol with two users, and a script for a hostile one. `S` is the caller's
 * own handle on the server it starts.
 */
export interface StubConformanceOptions<S extends ConformanceServer = ConformanceServer> {
  /** Names the stub in the tests' titles and in failures. */
  readonly name: string;
  /** The stub's default export. */
  readonly activate: Activate;
  /** The stub's protofly.json. */
  readonly manifest: ConformanceManifest;
  /** The stub as published: its bundled code (e.g. what `protofly publish` makes of it). */
  bundle(): Promise<string | Uint8Array>;
  /** Starts a real server for the stub to talk to (one per property; it is closed after). */
  server(): Promise<S>;
  /**
   * Two users the server knows, who can reach each other through it: the first calls the
   * second. Each property starts its own instances, and stops them.
   */
  readonly users: readonly [string, string];
  /** How a context for `address` talks to `server`: its token, config and domain. */
  context(server: S, address: string): ContextSettings | Promise<ContextSettings>;
  /**
   * A context for `address` whose credentials `server` refuses (a wrong password, a token for
   * elsewhere): the stub must fail, with `PF_ERR_AUTH`, and never say `live`.
   */
  refused(server: S, address: string): ContextSettings | Promise<ContextSettings>;
  readonly hostile: HostileOptions;
  /** The optional capabilities the stub has; one it has not is checked to be absent, and said so. */
  readonly offers: {
    /** It carries calls (offer, answer, bye); its manifest lists `call`. */
    readonly calls: boolean;
    /** Its instances have `snapshot()`, and take `ctx.snapshot` over (a live swap). */
    readonly snapshot: boolean;
  };
  /** The test functions to register with (`{ describe, it }` from 'vitest'). */
  readonly runner: TestRunner;
  /** The longest wait for one event (a socket opened, a message arrived): a bound, not a budget. Default 20 s. */
  readonly waitMs?: number;
}

/** One property: a title, a plain async check, and the capability it needs, if any. */
export interface StubProperty {
  readonly title: string;
  readonly run: (env: StubConformanceOptions) => Promise<void>;
  readonly capability?: keyof StubConformanceOptions['offers'];
  /** For a capability the stub does not offer: checks that it indeed has none. */
  readonly absent?: (env: StubConformanceOptions) => Promise<void>;
}

/** Registers every property as one test of `options.runner`. */
export function stubConformance<S extends ConformanceServer>(options: StubConformanceOptions<S>): void {
  const { describe, it } = options.runner;
  const env: StubConformanceOptions = options;
  describe(`stub conformance: ${options.name}`, () => {
    for (const p of Object.values(stubProperties)) {
      if (!p.capability || options.offers[p.capability]) it(p.title, () => p.run(env), 120_000);
      else it(`${p.title}: not offered (${p.capability} is false in the options)`, () => p.absent!(env));
    }
  });
}

/** Fails with `why` unless `ok`. */
function check(ok: boolean, why: string): asserts ok {
  if (!ok) throw new Error(why);
}

/** Runs `body` as property `title`: any failure names the stub and the property. */
function property(
  title: string,
  body: (env: StubConformanceOptions, world: World) => Promise<void>,
  more: Omit<StubProperty, 'title' | 'run'> = {},
): StubProperty {
  return {
    title,
    ...more,
    async run(env) {
      const world = new World(env);
      try {
        await body(env, world);
        await world.close();
      } catch (err) {
        // What the instances did wrong explains the failure best: it goes first.
        const faults = await world.close().then(
          () => undefined,
          (e: Error) => e.message,
        );
        const why = [faults, (err as Error).message].filter(Boolean).join('\n');
        throw new Error(`${env.name}: ${title}: ${why}`, { cause: err });
      }
    },
  };
}

/** The clock's own timers, taken before any property fakes the global ones. */
const REAL = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };

/** What one property runs: the server, the instances, and waits bounded by `waitMs`. */
class World {
  readonly #env: StubConformanceOptions;
  readonly instances: Instances;
  #server: ConformanceServer | undefined;
  readonly #closers: (() => Promise<void>)[] = [];

  constructor(env: StubConformanceOptions) {
    this.#env = env;
    this.instances = new Instances(env.activate, env.manifest.configuration?.defaults ?? {});
  }

  get alice(): string {
    return this.#env.users[0];
  }

  get bob(): string {
    return this.#env.users[1];
  }

  async server(): Promise<ConformanceServer> {
    this.#server ??= await this.#env.server();
    return this.#server;
  }

  /** Starts `address`'s instance against the server. */
  async start(
    address: string,
    options: {
      session?: DirectSession;
      peer?: string;
      snapshot?: unknown;
      refused?: boolean;
      onStatus?: (status: StubStatus) => void;
    } = {},
  ): Promise<Instance> {
    const server = await this.server();
    const settings = await (options.refused ? this.#env.refused : this.#env.context)(server, address);
    return this.instances.start(address, settings, options);
  }

  /** Resolves once `ok()` holds, re-checked on every event of `of`'s context. */
  async until(of: Instance, what: string, ok: () => boolean): Promise<void> {
    const ms = this.#env.waitMs ?? 20_000;
    const why = () =>
      `${what}: not within ${ms} ms (${of.address}: ${['created', ...of.ctx.statuses].join(' → ')})`;
    // The context's own bound is on the global clock, which a property may have faked.
    await this.#bounded(of.ctx.until(ok, ms + 1000), why);
  }

  live(of: Instance, what = `${of.address} live`): Promise<void> {
    return this.until(of, what, () => of.ctx.statuses.at(-1) === 'live');
  }

  /** Resolves once every socket of `session` closed. */
  async closed(session: DirectSession, what: string): Promise<void> {
    const open = [...session.sockets].map(
      (ws) =>
        new Promise<void>((resolve) =>
          ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()),
        ),
    );
    await this.#bounded(Promise.all(open), () => `${what}: not within ${this.#env.waitMs ?? 20_000} ms`);
  }

  /** `done`, or an error saying `why` after `waitMs` on the real clock. */
  async #bounded(done: Promise<unknown>, why: () => string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = REAL.setTimeout(() => reject(new Error(why())), this.#env.waitMs ?? 20_000);
    });
    try {
      await Promise.race([done.catch(() => bound), bound]);
    } finally {
      REAL.clearTimeout(timer);
    }
  }

  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn);
  }

  /** Stops everything; throws what any instance did wrong meanwhile. */
  async close(): Promise<void> {
    try {
      await this.instances.close();
    } finally {
      for (const fn of this.#closers.splice(0)) await fn();
      const server = this.#server;
      this.#server = undefined;
      await server?.close();
    }
  }
}

const chat = (from: string, to: string, text: string) =>
  request('create', from, to, { value: { kind: 'chat', text } });
/** The value of a create or update, when it has one. */
const bodyValue = (m: Message): Record<string, unknown> | undefined =>
  m.type === 'create' || m.type === 'update' ? (m.body.value as Record<string, unknown>) : undefined;
/** The chats `i` handed its runtime, by text. */
const chatsOf = (i: Instance): string[] =>
  i.ctx.received.flatMap((m) => {
    const v = m.type === 'create' ? bodyValue(m) : undefined;
    return v?.kind === 'chat' ? [String(v.text)] : [];
  });
/** The final responses `i` handed its runtime to request `id`. */
const answersTo = (i: Instance, id: string): Message[] =>
  i.ctx.received.filter((m) => m.type === 'response' && m.id === id && m.body.code >= 200);
const codeOf = (m: Message | undefined): number | undefined =>
  m?.type === 'response' ? m.body.code : undefined;
/** Sends of `i` of a canonical body of `kind`. */
const bodiesOf = (i: Instance, kind: string) =>
  i.ctx.received.filter((m) => bodyValue(m)?.kind === kind) as (Message & {
    body: { value: Record<string, unknown> };
  })[];
/** Kills every socket of the session, as a network that drops a connection does. */
const dropSockets = (session: DirectSession) => {
  for (const ws of session.sockets) ws.terminate();
};
const sdp = (origin: string) =>
  [
    'v=0',
    `o=${origin} 1 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 9 RTP/AVP 0',
    '',
  ].join('\r\n');

/** The properties, by key; `stubConformance` registers them in this order. */
export const stubProperties = {
  statusTransitions: property(
    'reports only the status transitions its lifecycle allows: up, a lost socket, back, stop, a refusal',
    async (_, w) => {
      const a = await w.start(w.alice, { peer: w.bob });
      await w.live(a);
      dropSockets(a.session);
      // From live, a lost connection can only be `disconnected` (core/stub.ts STATUS_TRANSITIONS).
      await w.until(a, 'disconnected, then live again, after its socket died', () => {
        const s = a.ctx.statuses;
        return s.at(-1) === 'live' && s.lastIndexOf('disconnected') > s.indexOf('live');
      });
      await a.stop();
      const refused = await w.start(w.alice, { peer: w.bob, refused: true });
      await w.until(refused, 'failed when the server refused its credentials', () =>
        refused.ctx.statuses.includes('failed'),
      );
    },
  ),

  chat: property('carries a chat to the peer and its answer back', async (_, w) => {
    const a = await w.start(w.alice, { peer: w.bob });
    const b = await w.start(w.bob);
    await Promise.all([w.live(a), w.live(b)]);
    const hello = chat(w.alice, w.bob, 'hello, conformance');
    a.post(hello);
    await w.until(b, 'the chat reaches the peer', () => chatsOf(b).length > 0);
    const got = b.ctx.received.find((m) => bodyValue(m)?.kind === 'chat')!;
    check(
      got.type === 'create' && got.from === w.alice && got.to === w.bob,
      `the peer got ${JSON.stringify(got)}, not a create from ${w.alice} to ${w.bob}`,
    );
    check(chatsOf(b).join() === 'hello, conformance', `the peer got the chats ${JSON.stringify(chatsOf(b))}`);
    b.post(response(got, 200));
    await w.until(a, "the peer's answer comes back", () => answersTo(a, hello.id).length > 0);
    const answer = answersTo(a, hello.id);
    check(answer.length === 1, `the answer came ${answer.length} times`);
    check(
      codeOf(answer[0]) === 200 && answer[0]!.from === w.bob && answer[0]!.to === w.alice,
      `the answer was ${JSON.stringify(answer[0])}, not 200 from ${w.bob} to ${w.alice}`,
    );
  }),

  call: property(
    'carries a call: offer, answer and bye, each answered',
    async (env, w) => {
      check(
        env.manifest.capabilities?.includes('call') === true,
        `offers.calls is true, but the manifest's capabilities (${env.manifest.capabilities}) lack 'call'`,
      );
      const a = await w.start(w.alice, { peer: w.bob });
      const b = await w.start(w.bob);
      // Both runtimes answer what they are handed, as the app's conversation does.
      a.answering();
      b.answering();
      await Promise.all([w.live(a), w.live(b)]);
      const callId = `conformance-${Date.now()}`;
      const offer = request('create', w.alice, w.bob, {
        value: { kind: 'offer', callId, sdp: sdp('alice'), media: ['audio'] },
      });
      a.post(offer);
      await w.until(b, 'the offer reaches the peer', () => bodiesOf(b, 'offer').length > 0);
      const offered = bodiesOf(b, 'offer')[0]!;
      check(
        offered.type === 'create' && String(offered.body.value.sdp).includes('m=audio'),
        `the peer got ${JSON.stringify(offered)}, not a create offer with the SDP`,
      );
      await w.until(a, 'the offer is answered', () => answersTo(a, offer.id).length > 0);
      check(
        codeOf(answersTo(a, offer.id)[0]) === 200,
        `the offer was answered ${JSON.stringify(answersTo(a, offer.id))}`,
      );

      const theirs = String(offered.body.value.callId);
      const accept = request('update', w.bob, w.alice, {
        value: { kind: 'answer', callId: theirs, sdp: sdp('bob') },
      });
      b.post(accept);
      await w.until(a, 'the SDP answer reaches the caller', () => bodiesOf(a, 'answer').length > 0);
      const answered = bodiesOf(a, 'answer')[0]!.body.value;
      check(
        answered.callId === callId && String(answered.sdp).includes('m=audio'),
        `the caller got ${JSON.stringify(answered)}, not the answer to call ${callId}`,
      );
      await w.until(b, 'the SDP answer is answered', () => answersTo(b, accept.id).length > 0);
      check(
        codeOf(answersTo(b, accept.id)[0]) === 200,
        `the answer was answered ${JSON.stringify(answersTo(b, accept.id))}`,
      );

      const bye = request('update', w.alice, w.bob, { value: { kind: 'bye', callId } });
      a.post(bye);
      await w.until(b, 'the bye reaches the peer', () => bodiesOf(b, 'bye').length > 0);
      check(
        bodiesOf(b, 'bye')[0]!.body.value.callId === theirs,
        `the peer got ${JSON.stringify(bodiesOf(b, 'bye')[0])}, not the bye of its call ${theirs}`,
      );
      await w.until(a, 'the bye is answered', () => answersTo(a, bye.id).length > 0);
      check(
        codeOf(answersTo(a, bye.id)[0]) === 200,
        `the bye was answered ${JSON.stringify(answersTo(a, bye.id))}`,
      );
    },
    {
      capability: 'calls',
      absent: async (env) =>
        check(
          !env.manifest.capabilities?.includes('call'),
          `offers.calls is false, but the manifest's capabilities list 'call'`,
        ),
    },
  ),

  refusedForGood: property(
    'fails for good when the server refuses it: no retry, however long its timers run (a fake clock)',
    async (env, w) => {
      // The server first: its start-up is not the stub's to run on a fake clock.
      await w.server();
      const { timers } = env.runner;
      timers.useFakeTimers({
        toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      });
      try {
        const f = await w.start(w.alice, { peer: w.bob, refused: true });
        await w.until(f, 'failed when the server refused its credentials', () =>
          f.ctx.statuses.includes('failed'),
        );
        const opened = f.session.opened;
        // Ten minutes of its backoffs, keep-alives and refreshes, run at once.
        timers.advanceTimersByTime(10 * 60_000);
        check(
          f.session.opened === opened,
          `after failing it opened ${f.session.opened - opened} more sockets: a refusal is final, not retried`,
        );
        check(f.ctx.statuses.at(-1) === 'failed', `after failing it reported ${f.ctx.statuses.join(' → ')}`);
      } finally {
        timers.useRealTimers();
      }
    },
  ),

  liveMeansReachable: property(
    'says live only once reachable at its domain: a chat sent to it the moment it says live arrives; refused credentials fail it with PF_ERR_AUTH, never live',
    async (_, w) => {
      const a = await w.start(w.alice, { peer: w.bob });
      await w.live(a);
      // The peer writes the moment the inbox says live, as an app may once register() resolved.
      const first = chat(w.alice, w.bob, 'the moment it is live');
      let written = false;
      const b = await w.start(w.bob, {
        onStatus: (status) => {
          if (status !== 'live' || written) return;
          written = true;
          a.post(first);
        },
      });
      // Before anything can arrive: going live takes the server's answer, a later turn.
      b.answering();
      await w.until(
        a,
        'the chat sent the moment it said live is answered',
        () => answersTo(a, first.id).length > 0,
      );
      const code = codeOf(answersTo(a, first.id)[0]);
      check(
        code === 200,
        `a chat sent to ${w.bob} the moment it said live was answered ${code}: it said live before it was reachable`,
      );
      check(
        chatsOf(b).join() === 'the moment it is live',
        `${w.bob} was handed ${JSON.stringify(chatsOf(b))}`,
      );
      const f = await w.start(w.alice, { peer: w.bob, refused: true });
      await w.until(f, 'failed when the server refused its credentials', () =>
        f.ctx.statuses.includes('failed'),
      );
      check(
        !f.ctx.statuses.includes('live'),
        `it said live before the server refused its credentials (${f.ctx.statuses.join(' → ')})`,
      );
      check(
        f.ctx.failedWith === 'PF_ERR_AUTH',
        `refused credentials failed it with ${f.ctx.failedWith}, not PF_ERR_AUTH`,
      );
      check(
        (f.ctx.failedDetail ?? '').trim() !== '',
        'it failed without a detail naming what the server refused',
      );
    },
  ),

  answersWhileNotLive: property(
    'answers a request itself while not live: one sent before it is live, and one after it failed',
    async (_, w) => {
      const b = await w.start(w.bob);
      b.answering();
      await w.live(b);
      const a = await w.start(w.alice, { peer: w.bob });
      // Right after activate: held until live, or answered at once; never dropped.
      const early = chat(w.alice, w.bob, 'before live');
      a.post(early);
      await w.until(a, 'a request sent before live is answered', () => answersTo(a, early.id).length > 0);
      const f = await w.start(w.alice, { peer: w.bob, refused: true });
      await w.until(f, 'failed when the server refused its credentials', () =>
        f.ctx.statuses.includes('failed'),
      );
      const late = chat(w.alice, w.bob, 'after failing');
      f.post(late);
      await w.until(f, 'a request sent after failing is answered', () => answersTo(f, late.id).length > 0);
      const code = codeOf(answersTo(f, late.id)[0])!;
      check(code >= 400, `a request sent after failing was answered ${code}, not an error`);
    },
  ),

  oneSocketPerSession: property(
    "shares one socket among one identity's conversations, closed and emptied with the last",
    async (_, w) => {
      const b = await w.start(w.bob);
      b.answering();
      const session = new DirectSession();
      const withBob = await w.start(w.alice, { session, peer: w.bob });
      const inbox = await w.start(w.alice, { session });
      await Promise.all([w.live(b), w.live(withBob), w.live(inbox)]);
      check(session.opened === 1, `two conversations of one identity opened ${session.opened} sockets`);
      const first = chat(w.alice, w.bob, 'from the conversation');
      withBob.post(first);
      await w.until(
        withBob,
        'the answer comes to the conversation that asked',
        () => answersTo(withBob, first.id).length > 0,
      );
      check(
        answersTo(inbox, first.id).length === 0,
        'the other conversation was handed an answer to a request it never sent',
      );
      // The first conversation ends (perhaps the one whose context opened the socket); the other goes on.
      await withBob.stop();
      const second = chat(w.alice, w.bob, 'from the one left');
      inbox.post(second);
      await w.until(inbox, 'the conversation left carries on', () => answersTo(inbox, second.id).length > 0);
      check(
        session.opened === 1,
        `the conversation left opened a socket of its own (${session.opened} in all)`,
      );
      await inbox.stop();
      await w.closed(session, "the session's socket closes with its last conversation");
      check(
        session.store.size === 0,
        `the session still holds ${[...session.store.keys()].join(', ')} after its last conversation stopped`,
      );
    },
  ),

  reconnection: property(
    'reconnects after its socket dies and the server restarts, losing nothing and repeating nothing',
    async (_, w) => {
      const server = await w.server();
      const a = await w.start(w.alice, { peer: w.bob });
      const b = await w.start(w.bob);
      b.answering();
      await Promise.all([w.live(a), w.live(b)]);
      const sent: Message[] = [];
      const send = (n: number) => {
        const batch = Array.from({ length: n }, (_, i) => chat(w.alice, w.bob, `message ${sent.length + i}`));
        for (const m of batch) {
          sent.push(m);
          a.post(m);
        }
        return batch;
      };
      const answered = (batch: readonly Message[]) => batch.every((m) => answersTo(a, m.id).length > 0);
      // Before: a run answered while all is well. Then runs in flight when the socket dies, sent
      // while it is down, and in flight again when the server restarts.
      const before = send(10);
      await w.until(a, 'a first run answered', () => answered(before));
      const refused = before.filter((m) => codeOf(answersTo(a, m.id)[0]) !== 200);
      check(
        refused.length === 0,
        `while live, requests were answered ${refused.map((m) => codeOf(answersTo(a, m.id)[0]))}`,
      );
      send(10);
      dropSockets(a.session);
      send(10);
      await w.until(
        a,
        'live again after its socket died',
        () =>
          a.ctx.statuses.lastIndexOf('live') > a.ctx.statuses.indexOf('disconnected') &&
          a.ctx.statuses.includes('disconnected'),
      );
      if (server.restart) {
        send(10);
        await server.restart();
        send(10);
      }
      await w.until(a, 'every request answered', () => answered(sent));
      // Back to normal: live again, and one more goes through (after any late copy on the same path).
      await w.live(a, 'live again');
      await w.live(b, 'the peer live again');
      const marker = chat(w.alice, w.bob, 'marker');
      a.post(marker);
      await w.until(
        a,
        'a message sent once live again is answered',
        () => answersTo(a, marker.id).length > 0,
      );
      check(
        codeOf(answersTo(a, marker.id)[0]) === 200,
        `once live again, a message was answered ${JSON.stringify(answersTo(a, marker.id))}`,
      );
      const twice = sent.filter((m) => answersTo(a, m.id).length > 1).map((m) => m.id);
      check(twice.length === 0, `requests answered more than once: ${twice.join(', ')}`);
      const texts = chatsOf(b);
      const repeated = texts.filter((t, i) => texts.indexOf(t) !== i);
      check(repeated.length === 0, `the peer was handed these twice: ${repeated.join(', ')}`);
      const lost = sent
        .filter((m) => codeOf(answersTo(a, m.id)[0]) === 200)
        .map((m) => (m.body as { value: { text: string } }).value.text)
        .filter((t) => !texts.includes(t));
      check(lost.length === 0, `answered 200, yet never handed to the peer: ${lost.join(', ')}`);
    },
  ),

  hostileFrames: property(
    'throws nothing and reports coherently whatever frames a hostile server sends (property-based)',
    async (env, w) => {
      const fc = await fastCheck();
      const h = await startHostileServer(env.hostile);
      w.onClose(() => h.close());
      const a = await w.instances.start(w.alice, env.hostile.context(h.url, w.alice), { peer: w.bob });
      await w.live(a, 'live with the hostile server (its script brings it live)');
      const frames = hostileFrames(fc, env.hostile.samples);
      await fc.assert(
        fc.asyncProperty(fc.array(frames, { maxLength: 8 }), async (batch) => {
          const [ws] = a.session.sockets;
          if (!ws) return;
          const expected = a.ctx.frames + batch.length;
          const before = a.ctx.faults();
          for (const f of batch) h.send(f);
          // Each batch waits until the stub took it (or its socket closed: the stub gave it up).
          await w.until(
            a,
            `the stub takes a batch of ${batch.length} frames`,
            () => a.ctx.frames >= expected || ws.readyState !== ws.OPEN,
          );
          // Only what this batch caused: fast-check shrinks a failing batch by running smaller ones.
          const fault = a.ctx.faults();
          check(fault === before, `after the frames ${JSON.stringify(batch).slice(0, 400)}: ${fault}`);
        }),
        { numRuns: 100, seed: env.hostile.seed },
      );
      const last = a.ctx.statuses.at(-1);
      check(
        last !== 'failed' && last !== 'stopped',
        `the stub did not keep running: its last status is ${last}`,
      );
    },
  ),

  manifestDefaults: property(
    'has manifest defaults, and configurations, that its configuration schema accepts',
    async (env, w) => {
      const configuration = env.manifest.configuration;
      check(configuration !== undefined, 'the manifest has no configuration');
      // The runtime refuses a schema outside its safe subset (no patterns, no remote $ref).
      assertSafeSchema(configuration.schema, MAX_SCHEMA_BOUNDS, env.name);
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      const schema = configuration.schema as Record<string, unknown>;
      // Defaults alone need not name what a deployment must (`required`).
      const loose = ajv.compile({ ...schema, required: [] });
      const whole = ajv.compile(schema);
      const defaults = configuration.defaults ?? {};
      check(loose(defaults), `the defaults ${JSON.stringify(defaults)}: ${ajv.errorsText(loose.errors)}`);
      const server = await w.server();
      for (const user of env.users) {
        const config = { ...defaults, ...(await env.context(server, user)).config };
        check(
          whole(config),
          `${user}'s configuration ${JSON.stringify(config)}: ${ajv.errorsText(whole.errors)}`,
        );
      }
    },
  ),

  noRuntimeImports: property('imports nothing at run time: its bundle is self-contained', async (env) => {
    const code = await env.bundle();
    const imports = await runtimeImports(typeof code === 'string' ? code : new TextDecoder().decode(code));
    check(imports.length === 0, `the bundle loads at run time: ${imports.join('; ')}`);
  }),

  snapshotRestore: property(
    'hands a conversation to a new instance with snapshot and restore: what it had on the wire and what it held, each answered once',
    async (_, w) => {
      const b = await w.start(w.bob);
      const old = await w.start(w.alice, { peer: w.bob });
      await Promise.all([w.live(b), w.live(old)]);
      check(
        typeof old.stub.snapshot === 'function',
        'offers.snapshot is true, but the stub has no snapshot()',
      );
      const onWire = chat(w.alice, w.bob, 'on the wire');
      old.post(onWire);
      await w.until(b, 'the first request reaches the peer', () => chatsOf(b).length > 0);
      // Its socket dies: what it is handed now it holds (none of it can go), and it hands it over.
      dropSockets(old.session);
      const held = chat(w.alice, w.bob, 'held');
      old.post(held);
      const text = JSON.stringify(old.stub.snapshot!());
      check(text !== undefined, 'snapshot() returned no JSON');
      await old.stop();
      // The new version's instance runs in a session of its own (sessions are never shared across versions).
      const next = await w.start(w.alice, { peer: w.bob, snapshot: JSON.parse(text) });
      await w.live(next, 'the new instance live');
      await w.until(b, 'the held request reaches the peer through the new instance', () =>
        chatsOf(b).includes('held'),
      );
      for (const m of b.ctx.received.filter((m) => bodyValue(m)?.kind === 'chat')) b.post(response(m, 200));
      const answers = (m: Message) => [...answersTo(old, m.id), ...answersTo(next, m.id)];
      await w.until(
        next,
        'both requests answered',
        () => answers(onWire).length > 0 && answers(held).length > 0,
      );
      for (const m of [onWire, held]) {
        const got = answers(m);
        check(
          got.length === 1 && codeOf(got[0]) === 200,
          `'${bodyValue(m)?.text}' was answered ${JSON.stringify(got.map(codeOf))}, not 200 once`,
        );
      }
      const texts = chatsOf(b);
      check(texts.length === 2, `the peer was handed ${JSON.stringify(texts)}, not each request once`);
    },
    {
      capability: 'snapshot',
      absent: async (env) => {
        const w = new World(env);
        try {
          const a = await w.start(w.alice, { peer: w.bob });
          check(a.stub.snapshot === undefined, 'offers.snapshot is false, but the stub has snapshot()');
        } finally {
          await w.close();
        }
      },
    },
  ),
} satisfies Record<string, StubProperty>;
