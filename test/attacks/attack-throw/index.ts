import type { Activate } from '../../../core/stub.js';
import { answer } from '../report.js';

/**
 * Attack: throws from the entry point ctx.config.where names (activate, its promise, its
 * result, stop, snapshot), or from the one an `execute` names (postMessage, a rejected
 * postMessage, a timer, a socket delegate, a thrown Proxy, a stray rejection).
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const where = String(ctx.config.where ?? 'nowhere');
  const boom = (): never => {
    throw new Error(`boom in ${where}`);
  };
  if (where === 'activate') boom();
  if (where === 'activate-async') return Promise.reject(new Error('boom in activate-async'));
  if (where === 'activate-shape') return { postMessage: 'not a function' } as Any;
  const trap = () => {
    throw new Error('trap');
  };
  const throwers: Record<string, () => unknown> = {
    throw: boom,
    reject: () => Promise.reject(new Error('boom in an async postMessage')),
    proxy: () => {
      throw new Proxy({}, { get: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, has: trap });
    },
    timer: () => ctx.setTimeout(boom, 0),
    socket: () => ctx.connect(String(ctx.config.url), [], { onOpen: boom, onMessage: boom }),
    stray: () => {
      Promise.reject(new Error('nobody handles this'));
    },
  };
  ctx.status('live');
  return {
    postMessage(msg) {
      if (msg.type === 'response') return;
      const thrower = msg.type === 'execute' ? throwers[msg.body.method] : undefined;
      const result = thrower?.();
      answer(ctx, msg, 200, { echo: msg.body });
      return result as undefined;
    },
    stop() {
      if (where === 'stop') boom();
    },
    snapshot() {
      if (where === 'snapshot') boom();
      return {};
    },
  };
};

export default activate;
