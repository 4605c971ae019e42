import type { Activate } from '../../../core/stub.js';
import { attempt, attemptAsync, type Outcomes, reportingStub } from '../report.js';

/** Attack: make an HTTP request to the test's server (its port comes in ctx.config). */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = async (ctx) => {
  const url = `http://127.0.0.1:${Number(ctx.config.port)}/stolen`;
  const outcomes: Outcomes = {};
  await attemptAsync(outcomes, 'fetch', async () => (await fetch(url)).ok);
  await attemptAsync(outcomes, 'globalThis.fetch', async () => (await (globalThis as Any).fetch(url)).ok);
  await attemptAsync(
    outcomes,
    'Function returns fetch',
    async () => (await Function('return fetch')()(url)).ok,
  );
  attempt(outcomes, 'XMLHttpRequest', () => {
    const xhr = new (globalThis as Any).XMLHttpRequest();
    xhr.open('GET', url);
    xhr.send();
    return true;
  });
  attempt(outcomes, 'navigator.sendBeacon', () => (globalThis as Any).navigator.sendBeacon(url) === true);
  attempt(outcomes, 'node:http', () => typeof require(['node', 'http'].join(':')).get(url) === 'object');
  return reportingStub(ctx, outcomes);
};

export default activate;
