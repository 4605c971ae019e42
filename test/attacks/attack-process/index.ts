import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/** Attack: reach `process` (its environment, exit, bindings) directly or through error stack machinery. */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  attempt(outcomes, 'process.env', () => typeof process.env.PATH === 'string');
  attempt(outcomes, 'process.exit', () => {
    process.exit(70);
    return true;
  });
  attempt(outcomes, 'globalThis.process', () => typeof (globalThis as Any).process?.pid === 'number');
  attempt(outcomes, 'process among the globals', () =>
    Object.getOwnPropertyNames(globalThis).includes('process'),
  );
  attempt(outcomes, 'Function returns process', () => typeof Function('return process')()?.pid === 'number');
  attempt(
    outcomes,
    'sloppy this',
    () =>
      (function (this: Any) {
        return this;
      })() !== undefined,
  );
  attempt(outcomes, 'Error.prepareStackTrace call sites', () => {
    (Error as Any).prepareStackTrace = (_e: unknown, frames: Any[]) => frames;
    const frames: Any = new Error('probe').stack;
    return Array.isArray(frames) && frames.some((f) => typeof f.getThis?.() === 'object');
  });
  attempt(outcomes, 'Error.captureStackTrace call sites', () => {
    const holder: Any = {};
    (Error as Any).captureStackTrace?.(holder);
    return Array.isArray(holder.stack);
  });
  attempt(outcomes, 'arguments.callee.caller', () => {
    const f = function (): Any {
      // biome-ignore lint/complexity/noArguments: the attack is the point.
      return (arguments as Any).callee.caller;
    };
    return f() !== null && f() !== undefined;
  });
  return reportingStub(ctx, outcomes);
};

export default activate;
