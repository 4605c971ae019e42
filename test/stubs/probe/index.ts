import type { StubErrorCode } from '../../../core/errors.js';
import type { Message } from '../../../core/message.js';
import type { Activate, StubContext, StubSocket, StubStatus } from '../../../core/stub.js';

/**
 * A well-behaved stub for the sandbox tests. It answers every request 200 with its body, and
 * runs the ctx capability an `execute` request names, answering with the result, or 500 and
 * the error's code when ctx refused. What happens later (socket events, timer ticks) it
 * reports to the requester as `update` messages.
 */

type Params = Record<string, unknown>;

/** Instances activated from this evaluation of the package: shared only if the package is evaluated once. */
let activations = 0;

const activate: Activate = (ctx) => {
  activations += 1;
  let counter = 0;
  let delivered = 0;
  const socketKey = 'socket';

  const update = (to: string, from: string, value: unknown) => {
    counter += 1;
    ctx.send({ id: `u${counter}`, type: 'update', from, to, body: { value } });
  };

  const commands: Record<string, (params: Params, msg: Message) => unknown> = {
    pristine: () => ({
      polluted: 'polluted' in {},
      push: [].push.name,
      parse: typeof JSON.parse('1'),
      stringify: JSON.stringify({ a: 1 }),
    }),
    connect: (p, msg) => {
      const socket = ctx.connect(String(p.url), (p.protocols as string[]) ?? [], {
        onOpen: (protocol) => update(msg.from, msg.to, { event: 'open', protocol }),
        onMessage: (data) => update(msg.from, msg.to, { event: 'message', data }),
        onClose: (code, reason) => update(msg.from, msg.to, { event: 'close', code, reason }),
        onError: (message) => update(msg.from, msg.to, { event: 'error', message }),
      });
      ctx.session.set(socketKey, socket);
      return 'connecting';
    },
    socketSend: (p) => (ctx.session.get(socketKey) as StubSocket).send(String(p.data)),
    socketClose: () => (ctx.session.get(socketKey) as StubSocket).close(1000, 'bye'),
    sessionSet: (p) => ctx.session.set(String(p.key), p.value),
    sessionGet: (p) => ctx.session.get(String(p.key)) ?? null,
    timer: (p, msg) => {
      const every = Number(p.ms);
      const tick = () => update(msg.from, msg.to, { event: 'tick' });
      return p.repeat ? ctx.setInterval(tick, every) : ctx.setTimeout(tick, every);
    },
    clearTimer: (p) => ctx.clearInterval(Number(p.id)),
    log: (p) => {
      for (let i = 0; i < Number(p.n ?? 1); i++) ctx.log.info(`${String(p.text)} ${i}`, { i });
    },
    status: (p) => ctx.status(p.status as StubStatus, 'asked to', p.code as StubErrorCode | undefined),
    // After the answer: a failed stub's answer would not be taken.
    fail: (p) => ctx.setTimeout(() => ctx.status('failed', String(p.detail), p.code as StubErrorCode), 0),
    config: () => ctx.config,
    identity: () => ctx.identity,
    peer: () => ctx.peer ?? null,
    delivered: () => delivered,
    activations: () => activations,
    random: () => [typeof Date.now(), typeof Math.random(), typeof crypto.randomUUID()],
    platform: () => platform(),
  };

  const run = (msg: Message & { type: 'execute' }) => {
    const command = commands[msg.body.method];
    if (!command) return respond(ctx, msg, 404, { error: `no command ${msg.body.method}` });
    const refused = (err: unknown) =>
      respond(ctx, msg, 500, {
        code: (err as { code?: string }).code ?? 'none',
        message: (err as Error).message,
      });
    try {
      const result = command((msg.body.params ?? {}) as Params, msg);
      if (!(result instanceof Promise)) return respond(ctx, msg, 200, result ?? null);
      result.then((value) => respond(ctx, msg, 200, value ?? null), refused);
    } catch (err) {
      refused(err);
    }
  };

  // `connecting` on asking: a stub still on its way to its server (the `status` command ends it).
  ctx.status(ctx.config.connecting === true ? 'connecting' : 'live');
  return {
    postMessage(msg) {
      delivered += 1;
      if (msg.type === 'response') return;
      if (msg.type === 'execute') return run(msg);
      respond(ctx, msg, 200, { echo: msg.body });
    },
    stop() {},
    snapshot: () => ({ delivered }),
  };
};

/**
 * What the platform gives a stub beyond its ctx (the globals, TextEncoder and TextDecoder,
 * crypto.subtle's answers): the same on every host (test/sandbox-attacks.test.ts).
 */
async function platform(): Promise<Record<string, unknown>> {
  // biome-ignore lint/suspicious/noExplicitAny: the platform's globals, untyped in a stub.
  const g = globalThis as any;
  const subtle = g.crypto.subtle;
  const data = new Uint8Array([1, 2, 3]);
  const bytes = (b: ArrayBuffer) => [...new Uint8Array(b)];
  const hmac = await subtle.importKey('raw', data, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const base = await subtle.importKey('raw', data, 'PBKDF2', false, ['deriveBits']);
  const derive = { name: 'PBKDF2', hash: 'SHA-1', salt: data, iterations: 16 };
  const decoder = new g.TextDecoder();
  return {
    globals: Object.getOwnPropertyNames(globalThis).sort(),
    crypto: Object.keys(g.crypto).sort(),
    subtle: Object.keys(subtle).sort(),
    encoded: [...new g.TextEncoder().encode('aé€😀\ud800')],
    into: new g.TextEncoder().encodeInto('aé€', new Uint8Array(4)),
    decoded: new g.TextDecoder().decode(
      new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xc3, 0xa9, 0xff, 0xe2, 0x82]),
    ),
    streamed: [
      decoder.decode(new Uint8Array([0xe2, 0x82]), { stream: true }),
      decoder.decode(new Uint8Array([0xac])),
    ],
    fatal: (() => {
      try {
        return new g.TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff]));
      } catch (err) {
        return (err as Error).name;
      }
    })(),
    digest: bytes(await subtle.digest('SHA-256', data)),
    hmac: bytes(await subtle.sign('HMAC', hmac, data)),
    pbkdf2: bytes(await subtle.deriveBits(derive, base, 160)),
  };
}

function respond(ctx: StubContext, msg: Message, code: number, value: unknown): void {
  ctx.send({ id: msg.id, type: 'response', from: msg.to, to: msg.from, body: { code, value } });
}

export default activate;
