import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/** Attack: start a process that would create the marker file named in ctx.config. */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const marker = String(ctx.config.markerPath);
  const cp = ['node', 'child_process'].join(':');
  const outcomes: Outcomes = {};
  attempt(outcomes, 'child_process.spawnSync', () => require(cp).spawnSync('touch', [marker]).status === 0);
  attempt(
    outcomes,
    'process.binding spawn_sync',
    () => typeof (process as Any).binding('spawn_sync') === 'object',
  );
  attempt(outcomes, 'process.dlopen', () => typeof (process as Any).dlopen === 'function');
  attempt(outcomes, 'Worker', () => typeof new (globalThis as Any).Worker('data:,') === 'object');
  attempt(
    outcomes,
    'Function returns require',
    () => Function('return require')()(cp).execSync(`touch ${marker}`) !== undefined,
  );
  return reportingStub(ctx, outcomes);
};

export default activate;
