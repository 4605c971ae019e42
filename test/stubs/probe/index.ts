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
  };

  const run = (msg: Message & { type: 'execute' }) => {
    const command = commands[msg.body.method];
    if (!command) return respond(ctx, msg, 404, { error: `no command ${msg.body.method}` });
    try {
      respond(ctx, msg, 200, command((msg.body.params ?? {}) as Params, msg) ?? null);
    } catch (err) {
      respond(ctx, msg, 500, {
        code: (err as { code?: string }).code ?? 'none',
        message: (err as Error).message,
      });
    }
  };

  ctx.status('live');
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

function respond(ctx: StubContext, msg: Message, code: number, value: unknown): void {
  ctx.send({ id: msg.id, type: 'response', from: msg.to, to: msg.from, body: { code, value } });
}

export default activate;
