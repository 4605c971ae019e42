import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '../runtime/bus.js';
import { developmentPolicy } from '../runtime/policy.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { converse, eventually, type TestConversation } from './support/conversation.js';
import { verifiedPackageOf } from './support/packages.js';

/**
 * The watchdog blames the right party: a stall of the host's own thread (a GC pause, slow app
 * code, the process stopped) is not the workers' silence, while a stub in a busy loop still
 * loses its worker, and its package runs again in a new one.
 */

const probe = () => verifiedPackageOf(join(import.meta.dirname, 'stubs/probe'));
const loop = () => verifiedPackageOf(join(import.meta.dirname, 'attacks/attack-loop'));

/** A healthy worker answers a heartbeat in well under a millisecond; this is far beyond a loaded machine's scheduling delays. */
// Long enough that a worker starved of CPU by a loaded machine is not judged unresponsive; the
// host's stalls below are five times as long.
const WATCHDOG_MS = 1500;

/** Holds the host's thread, as slow app code or a long GC pause would. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const failed = (c: TestConversation) => c.statuses.filter((s) => s.status === 'failed');

/** Echoes through `c` until `ms` have passed: each round trip lets the host's heartbeats run. */
async function keepEchoing(c: TestConversation, ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (let i = 0; performance.now() < until; i++) {
    const answer = await c.echo(`e${i}`);
    // A worker ended meanwhile answers nothing (the bus's 408): the failure says why.
    expect({ code: answer.body.code, failed: failed(c) }).toEqual({ code: 200, failed: [] });
  }
}

describe('NodeWorkerHost watchdog', () => {
  let host: NodeWorkerHost;
  let bus: Bus;
  beforeAll(async () => {
    host = new NodeWorkerHost({ policy: developmentPolicy, watchdogMs: WATCHDOG_MS });
    bus = new Bus({ timeoutMs: 10_000 });
    await host.ready();
  });
  afterAll(async () => {
    await host.terminate();
    bus.close();
  });

  it("does not end a healthy worker after the host's own thread stalled for many watchdog periods", async () => {
    const c = await converse(host, bus, await probe());
    expect((await c.echo('before')).body.code).toBe(200);
    block(5 * WATCHDOG_MS);
    // Heartbeats for three watchdog periods after the stall, each one judging the worker.
    await keepEchoing(c, 3 * WATCHDOG_MS);
    block(5 * WATCHDOG_MS);
    await keepEchoing(c, 3 * WATCHDOG_MS);
    expect(failed(c)).toEqual([]);
    expect(c.handle.status).toBe('live');
    await c.handle.stop();
  }, 120_000);

  it('still ends a worker whose stub spins, with PF_ERR_WATCHDOG, and the package runs again in a new one', async () => {
    const pkg = await loop();
    const c = await converse(host, bus, pkg);
    const neighbour = await converse(host, bus, await probe());
    void c.execute('spin');
    await eventually(() => failed(c).length > 0, 'the spinning stub fails', 30_000);
    expect(failed(c)[0]!.error?.code).toBe('PF_ERR_WATCHDOG');
    expect(failed(c)[0]!.error?.message).toMatch(
      /held its thread for \d+ ms without yielding \(limit 1500 ms\)/,
    );
    const again = await converse(host, bus, pkg);
    expect((await again.echo('back')).body.code).toBe(200);
    expect((await neighbour.echo('unharmed')).body.code).toBe(200);
    expect(failed(neighbour)).toEqual([]);
  }, 60_000);
});
