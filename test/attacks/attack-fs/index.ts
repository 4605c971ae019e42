import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/** Attack: read a file the test wrote (its path comes in ctx.config), by every road a Node module has. */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const path = String(ctx.config.secretPath);
  const fsName = ['node', 'fs'].join(':');
  const read = (fs: Any) => typeof fs.readFileSync(path, 'utf8') === 'string';
  const outcomes: Outcomes = {};
  attempt(outcomes, 'require', () => read(require(fsName)));
  attempt(outcomes, 'process.mainModule.require', () => read((process as Any).mainModule.require(fsName)));
  attempt(outcomes, 'process.binding', () => typeof (process as Any).binding('fs') === 'object');
  attempt(outcomes, 'globalThis.process', () => (globalThis as Any).process !== undefined);
  attempt(outcomes, 'module.require', () => read((module as Any).require(fsName)));
  attempt(outcomes, 'Function returns process', () =>
    read(Function('return process')().mainModule.require(fsName)),
  );
  attempt(outcomes, 'globalThis.require', () => read((globalThis as Any).require(fsName)));
  attempt(
    outcomes,
    'Deno/Bun file APIs',
    () => typeof (globalThis as Any).Deno?.readTextFileSync === 'function',
  );
  return reportingStub(ctx, outcomes);
};

export default activate;
