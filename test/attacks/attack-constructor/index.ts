import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/** Attack: climb from any function it can touch to a Function constructor that runs outside the compartment. */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  const escapes = (ctor: Any) =>
    typeof ctor('return typeof process === "object" ? process : undefined')()?.pid === 'number';
  let thrown: Any;
  try {
    ctx.status('created');
  } catch (err) {
    thrown = err;
  }
  const sources: Record<string, () => Any> = {
    'arrow function': () => (() => 0).constructor.constructor,
    'plain object': () => ({}).constructor.constructor,
    'async function': () => Object.getPrototypeOf(async () => {}).constructor,
    'generator function': () => Object.getPrototypeOf(function* () {}).constructor,
    'async generator function': () => Object.getPrototypeOf(async function* () {}).constructor,
    'ctx.send': () => ctx.send.constructor,
    'ctx itself': () => (ctx as Any).constructor.constructor,
    'ctx.session.get': () => ctx.session.get.constructor.constructor,
    'ctx.log.info': () => ctx.log.info.constructor,
    'an error the host threw': () => thrown.constructor.constructor,
    'Reflect.construct': () => (body: string) =>
      Reflect.construct(Object.getPrototypeOf(() => 0).constructor, [body]),
  };
  for (const [name, source] of Object.entries(sources)) attempt(outcomes, name, () => escapes(source()));
  return reportingStub(ctx, outcomes);
};

export default activate;
