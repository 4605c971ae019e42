import type { Message } from '../../../core/message.js';
import type { Activate } from '../../../core/stub.js';
import { answer, attempt, type Outcomes } from '../report.js';

/**
 * Attack: on `execute spoof`, sends messages from addresses it was not given (the app's own,
 * another domain's, the local domain's registry), a malformed message, an oversized one, and
 * tries to rewrite the identity it was handed; then one honest update.
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  const spoof = (msg: Message) => {
    const to = msg.from;
    const update = (from: string, value: unknown): Message => ({
      id: `s${from}`,
      type: 'update',
      from,
      to,
      body: { value },
    });
    attempt(outcomes, 'from the app', () => ctx.send(update(msg.from, 'as the app')));
    attempt(outcomes, 'from another domain', () =>
      ctx.send(update('user://probe.test/someone', 'as another domain')),
    );
    attempt(outcomes, 'from the local registry', () =>
      ctx.send(update('domain://msg-node.a.example/registry', 'as the registry')),
    );
    attempt(outcomes, 'malformed', () => ctx.send({ id: 'bad', type: 'create', from: msg.to, to } as Any));
    attempt(outcomes, 'oversized', () => ctx.send(update(msg.to, 'x'.repeat(300_000))));
    attempt(outcomes, 'rewritten identity', () => {
      (ctx.identity as Any).address = 'user://a.example/admin';
      return ctx.identity.address === 'user://a.example/admin';
    });
    ctx.send(update(msg.to, 'honest'));
  };
  ctx.status('live');
  return {
    postMessage(msg) {
      if (msg.type !== 'execute') return;
      if (msg.body.method === 'spoof') spoof(msg);
      answer(ctx, msg, 200, outcomes);
    },
    stop() {},
  };
};

export default activate;
