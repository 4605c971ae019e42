import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/** Attack: evaluate code that reaches `process` or `require`: eval, Function, string timers, nested compartments. */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const outcomes: Outcomes = {};
  // biome-ignore lint/security/noGlobalEval: the attack is the point.
  const indirectEval = globalThis.eval;
  const powerful = "typeof process === 'object' || typeof require === 'function'";
  // Spelled apart: SES refuses a whole package whose text shows a direct eval or an import call.
  const directEval = ['ev', 'al('].join('');
  const importCall = ['imp', 'ort('].join('');
  attempt(outcomes, 'indirect eval', () => indirectEval(powerful) === true);
  attempt(
    outcomes,
    'direct eval inside eval',
    () => indirectEval(`${directEval}${JSON.stringify(powerful)})`) === true,
  );
  attempt(
    outcomes,
    // The word too: a browser host refuses a package whose text says it (sandbox/script.ts).
    ['dynamic imp', 'ort inside eval'].join(''),
    () => typeof indirectEval(`${importCall}'node:fs')`) === 'object',
  );
  attempt(outcomes, 'new Function', () => new Function(`return ${powerful}`)() === true);
  attempt(outcomes, 'Function of this', () => typeof Function('return this')().process === 'object');
  attempt(outcomes, 'string timer', () => typeof ctx.setTimeout('globalThis.hit = 1' as Any, 0) === 'number');
  attempt(outcomes, 'nested Compartment', () => {
    const Nested = (globalThis as Any).Compartment;
    return new Nested({}).evaluate(powerful) === true;
  });
  attempt(outcomes, 'nested Compartment given globalThis', () => {
    const Nested = (globalThis as Any).Compartment;
    return new Nested({ globals: { g: globalThis } }).evaluate('typeof g.process') === 'object';
  });
  return reportingStub(ctx, outcomes);
};

export default activate;
