import { describe, expect, it, vi } from 'vitest';
import { type Message, response } from '../core/message.js';
import type { Activate, StubContext, StubStatus } from '../core/stub.js';
import { type StubConformanceOptions, stubProperties } from '../entry/stub-testing.js';
import { jsonWsConformance, type Node } from './support/json-ws-conformance.js';

/**
 * The conformance suite fails a stub that breaks a property, naming the property: each broken
 * stub below is json-ws with one fault put in, and the property it breaks is run directly.
 */

const base = jsonWsConformance({ describe, it, timers: vi });
const jsonWs = base.activate;

/** json-ws with `fault`, against the same node; waits cut short, as the fault makes one never end. */
function broken(fault: string, patch: Partial<StubConformanceOptions<Node>>): StubConformanceOptions {
  return { ...base, name: `json-ws ${fault}`, waitMs: 8000, ...patch };
}

/** The context json-ws gets, with some of it replaced. */
function ctxWith(ctx: StubContext, over: Partial<StubContext>): StubContext {
  return {
    domain: ctx.domain,
    identity: ctx.identity,
    peer: ctx.peer,
    snapshot: ctx.snapshot,
    config: ctx.config,
    session: ctx.session,
    log: ctx.log,
    send: (m) => ctx.send(m),
    connect: (url, protocols, delegate) => ctx.connect(url, protocols, delegate),
    status: (s, d, c) => ctx.status(s, d, c),
    setTimeout: (fn, ms) => ctx.setTimeout(fn, ms),
    clearTimeout: (id) => ctx.clearTimeout(id),
    setInterval: (fn, ms) => ctx.setInterval(fn, ms),
    clearInterval: (id) => ctx.clearInterval(id),
    ...over,
  };
}

/** json-ws whose posted messages go through `post` first (it calls `next` to pass one on). */
function posting(
  post: (msg: Message, next: (m: Message) => void, ctx: StubContext, status: () => StubStatus) => void,
): Activate {
  return async (ctx) => {
    let status: StubStatus = 'created';
    const stub = await jsonWs(
      ctxWith(ctx, {
        status: (s, d, c) => {
          status = s;
          ctx.status(s, d, c);
        },
      }),
    );
    return {
      ...stub,
      postMessage: (m) =>
        post(
          m,
          (x) => stub.postMessage(x),
          ctx,
          () => status,
        ),
    };
  };
}

describe('stubConformance against broken stubs', () => {
  it('fails one that skips `disconnected` when its socket dies, naming the property and the transition', async () => {
    const env = broken('that skips disconnected', {
      activate: (ctx) =>
        jsonWs(
          ctxWith(ctx, { status: (s, d, c) => ctx.status(s === 'disconnected' ? 'connecting' : s, d, c) }),
        ),
    });
    await expect(stubProperties.statusTransitions.run(env)).rejects.toThrow(
      /^json-ws that skips disconnected: reports only the status transitions its lifecycle allows.*reported 'connecting' after 'live'/s,
    );
  });

  it('fails one that hands its runtime each message twice, in the chat property', async () => {
    const env = broken('that repeats itself', {
      activate: (ctx) =>
        jsonWs(
          ctxWith(ctx, {
            send: (m) => {
              ctx.send(m);
              if (m.type !== 'response') ctx.send(m);
            },
          }),
        ),
    });
    await expect(stubProperties.chat.run(env)).rejects.toThrow(
      /^json-ws that repeats itself: carries a chat to the peer and its answer back: the peer got the chats \["hello, conformance","hello, conformance"\]/,
    );
  });

  it('fails one that drops a bye, in the call property', async () => {
    const env = broken('that drops byes', {
      activate: posting((m, next) => {
        if (!(m.type === 'update' && (m.body.value as { kind?: string }).kind === 'bye')) next(m);
      }),
    });
    await expect(stubProperties.call.run(env)).rejects.toThrow(
      /^json-ws that drops byes: carries a call: offer, answer and bye, each answered: the bye reaches the peer: not within 8000 ms/,
    );
  });

  it('fails one that keeps knocking after the server refused it, on the fake clock', async () => {
    const env = broken('that keeps knocking', {
      activate: (ctx) =>
        jsonWs(
          ctxWith(ctx, {
            status: (s, d, c) => {
              ctx.status(s, d, c);
              if (s !== 'failed') return;
              // A minute later, and every minute: a new socket to the server that refused it.
              ctx.setInterval(
                () => ctx.connect(String(ctx.config.url), [], { onMessage() {} }).close(),
                60_000,
              );
            },
          }),
        ),
    });
    await expect(stubProperties.refusedForGood.run(env)).rejects.toThrow(
      /^json-ws that keeps knocking: fails for good when the server refuses it.*: after failing it opened 10 more sockets: a refusal is final, not retried/,
    );
  });

  it('fails one that says live when its socket opens, before the node took its token', async () => {
    const env = broken('that says live too early', {
      activate: (ctx) =>
        jsonWs(
          ctxWith(ctx, {
            connect: (url, protocols, delegate) =>
              ctx.connect(url, protocols, {
                ...delegate,
                onOpen: (protocol) => {
                  ctx.status('live');
                  delegate.onOpen?.(protocol);
                },
              }),
          }),
        ),
    });
    await expect(stubProperties.liveMeansReachable.run(env)).rejects.toThrow(
      /^json-ws that says live too early: says live only once reachable at its domain.*\nit said live before the server refused its credentials \(connecting → live → failed\)/s,
    );
  });

  it('fails one that drops what it is handed before it is live', async () => {
    const env = broken('that drops early requests', {
      activate: posting((m, next, _, status) => status() === 'live' && next(m)),
    });
    await expect(stubProperties.answersWhileNotLive.run(env)).rejects.toThrow(
      /^json-ws that drops early requests: answers a request itself while not live.*: a request sent before live is answered: not within 8000 ms/,
    );
  });

  it('fails one that opens a socket per conversation', async () => {
    const env = broken('with a socket per conversation', {
      activate: (ctx) => {
        const own = new Map<string, unknown>();
        const session = {
          get: (k: string) => own.get(k),
          set: (k: string, v: unknown) => void own.set(k, v),
          delete: (k: string) => void own.delete(k),
        };
        return jsonWs(ctxWith(ctx, { session }));
      },
    });
    await expect(stubProperties.oneSocketPerSession.run(env)).rejects.toThrow(
      /^json-ws with a socket per conversation: shares one socket .*: two conversations of one identity opened 2 sockets/,
    );
  });

  it('fails one that answers 200 for what it could not send, in the reconnection property', async () => {
    const env = broken('that claims delivery while down', {
      activate: posting((m, next, ctx, status) => {
        if (status() === 'live' || m.type === 'response') return next(m);
        ctx.send(response(m, 200));
      }),
    });
    await expect(stubProperties.reconnection.run(env)).rejects.toThrow(
      /^json-ws that claims delivery while down: reconnects .*: answered 200, yet never handed to the peer: message \d+/,
    );
  });

  it('fails one that throws on an `ack` frame without ids (json-ws once did), with a counterexample', async () => {
    const env = broken('that trusts ack frames', {
      // A run that meets such a frame within its first dozen batches: the failure, not the search, is tested.
      hostile: { ...base.hostile, seed: 901944483 },
      activate: (ctx) =>
        jsonWs(
          ctxWith(ctx, {
            connect: (url, protocols, delegate) =>
              ctx.connect(url, protocols, {
                ...delegate,
                onMessage: (data) => {
                  const frame = (() => {
                    try {
                      return JSON.parse(data) as { t?: unknown; ids?: Iterable<unknown> };
                    } catch {
                      return undefined;
                    }
                  })();
                  if (frame?.t === 'ack') for (const _ of frame.ids!);
                  delegate.onMessage(data);
                },
              }),
          }),
        ),
    });
    await expect(stubProperties.hostileFrames.run(env)).rejects.toThrow(
      /^json-ws that trusts ack frames: throws nothing and reports coherently whatever frames a hostile server sends.*threw out of onMessage: frame\.ids is not iterable.*Counterexample: \[\[.*ack/s,
    );
  });

  it('fails manifest defaults the configuration schema refuses, naming the setting', async () => {
    const configuration = { ...base.manifest.configuration!, defaults: { reconnectDelayMs: -1 } };
    const env = broken('with a negative default', { manifest: { ...base.manifest, configuration } });
    await expect(stubProperties.manifestDefaults.run(env)).rejects.toThrow(
      /^json-ws with a negative default: has manifest defaults.*: the defaults \{"reconnectDelayMs":-1\}: data\/reconnectDelayMs must be >= 0/,
    );
  });

  it('fails a bundle that imports a module at run time, naming it', async () => {
    const env = broken('that reads files', {
      bundle: async () =>
        "import { readFileSync } from 'node:fs';\nexport default () => readFileSync('/etc/passwd');",
    });
    await expect(stubProperties.noRuntimeImports.run(env)).rejects.toThrow(
      "json-ws that reads files: imports nothing at run time: its bundle is self-contained: the bundle loads at run time: import-statement 'node:fs'",
    );
  });

  it('fails one whose snapshot forgets what it held', async () => {
    const env = broken('with an empty snapshot', {
      activate: async (ctx) => {
        const stub = await jsonWs(ctx);
        return { ...stub, snapshot: () => ({ outbox: [] }) };
      },
    });
    await expect(stubProperties.snapshotRestore.run(env)).rejects.toThrow(
      /^json-ws with an empty snapshot: hands a conversation to a new instance .*: the held request reaches the peer through the new instance: not within 8000 ms/,
    );
  });
});
