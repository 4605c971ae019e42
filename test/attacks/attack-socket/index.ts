import type { Activate } from '../../../core/stub.js';
import { attempt, type Outcomes, reportingStub } from '../report.js';

/**
 * Attack: open connections outside the allow-list (any port of 127.0.0.1, path /allowed), by URL tricks
 * and by the platform's own sockets; then one allowed connection, to show the door works.
 */

// biome-ignore lint/suspicious/noExplicitAny: an attacker probes untyped objects.
type Any = any;

const activate: Activate = (ctx) => {
  const port = Number(ctx.config.port);
  const outcomes: Outcomes = {};
  const quiet = { onMessage() {} };
  const urls: Record<string, string> = {
    'forbidden path': `ws://127.0.0.1:${port}/forbidden`,
    'path that only starts like the prefix': `ws://127.0.0.1:${port}/allowedx`,
    'dot segments': `ws://127.0.0.1:${port}/allowed/../forbidden`,
    'encoded dot segments': `ws://127.0.0.1:${port}/allowed/%2e%2e/forbidden`,
    'another name for the host': `ws://localhost:${port}/allowed`,
    'credentials smuggling a host': `ws://127.0.0.1:${port}@localhost:${port}/allowed`,
    'other scheme': `wss://127.0.0.1:${port}/allowed`,
    'other host': 'ws://evil.example/allowed',
  };
  for (const [name, url] of Object.entries(urls)) {
    attempt(outcomes, name, () => typeof ctx.connect(url, [], quiet) === 'object');
  }
  attempt(
    outcomes,
    'global WebSocket',
    () => typeof new (globalThis as Any).WebSocket(urls['forbidden path']) === 'object',
  );
  attempt(
    outcomes,
    'node:net',
    () => typeof require(['node', 'net'].join(':')).connect(port, '127.0.0.1') === 'object',
  );
  // The allowed one: not an escape, the capability working.
  ctx.connect(`ws://127.0.0.1:${port}/allowed`, [], quiet);
  return reportingStub(ctx, outcomes);
};

export default activate;
