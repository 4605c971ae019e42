import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/**
 * Attack: tamper with every object it was handed (ctx and what hangs off it, its socket, an
 * error the sandbox threw, the `require` stand-in), hoping to change what the sandbox runtime
 * or another stub in the same worker uses.
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  const c = ctx as Any;
  const evil = () => 'evil';
  let thrown: Any;
  try {
    ctx.status('created');
  } catch (err) {
    thrown = err;
  }
  const socket: Any = ctx.connect(`ws://127.0.0.1:${Number(ctx.config.port)}/allowed`, [], {
    onMessage() {},
  });
  const writes: Record<string, () => boolean> = {
    'ctx.send': () => {
      c.send = evil;
      return c.send === evil;
    },
    'ctx.log.info': () => {
      c.log.info = evil;
      return c.log.info === evil;
    },
    'delete ctx.status': () => delete c.status && !('status' in c),
    'new property on ctx': () => {
      Object.defineProperty(c, 'extra', { value: 1 });
      return c.extra === 1;
    },
    'prototype of ctx': () => Object.setPrototypeOf(c, { evil }) && c.evil === evil,
    'ctx.config': () => {
      c.config.injected = true;
      return c.config.injected === true;
    },
    'ctx.identity': () => {
      c.identity.address = 'user://a.example/admin';
      return c.identity.address === 'user://a.example/admin';
    },
    'ctx.session.get': () => {
      c.session.get = evil;
      return c.session.get === evil;
    },
    'ctx.send.call': () => {
      c.send.call = evil;
      return c.send.call === evil;
    },
    'socket.send': () => {
      socket.send = evil;
      return socket.send === evil;
    },
    'prototype of a sandbox error': () => {
      Object.getPrototypeOf(thrown).toJSON = evil;
      return Object.getPrototypeOf(thrown).toJSON === evil;
    },
    'class of a sandbox error': () => {
      thrown.constructor.injected = true;
      return thrown.constructor.injected === true;
    },
    'the require stand-in': () => {
      (require as Any).injected = true;
      return (require as Any).injected === true;
    },
  };
  for (const [name, write] of Object.entries(writes)) attempt(outcomes, name, write);
  return reportingStub(ctx, outcomes);
};

export default activate;
