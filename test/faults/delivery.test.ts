import { afterEach, describe, expect, it } from 'vitest';
import type { ProtoflyError } from '../../core/errors.js';
import type { Conversation } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import type { Runtime, VersionEvent } from '../../runtime/runtime.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { Ledger } from './ledger.js';
import { type FaultWorld, faultWorld, JSON_WS, stubDir } from './world.js';

/**
 * Faults under load, end to end: a messaging node in its own process that is killed, stopped
 * and started again; real runtimes with the worker sandbox; stubs that exhaust their memory.
 * Every case ends with the same app-level check (ledger.ts): every resolved send arrived
 * exactly once, in per-sender order, nothing rejected arrived, no send was left hanging.
 */

const ALICE = 'user://b.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
/** The sandbox logs the failures these cases cause on purpose; the assertions look at events. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let world: FaultWorld | undefined;
const hosts: NodeWorkerHost[] = [];
afterEach(async () => {
  await world?.close();
  world = undefined;
  await Promise.all(hosts.splice(0).map((h) => h.terminate()));
}, 60_000);
/** A case streams thousands of messages through two sandboxes and a node process. */
const CASE_MS = 180_000;

/** A sandbox host of its own for one runtime: a worker brought down takes no other runtime's stubs. */
function host(): NodeWorkerHost {
  // A loaded machine stalls the host for seconds; the watchdog is not what these cases test.
  const h = new NodeWorkerHost({ policy: developmentPolicy, log: quiet, watchdogMs: 15_000 });
  hosts.push(h);
  return h;
}

/** Resolves with the first `event` of `rt` that `match` accepts. */
function next<T>(rt: Runtime, event: 'version', match: (e: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const off = rt.on(event, ((e: T) => {
      if (!match(e)) return;
      off();
      resolve(e);
    }) as never);
  });
}

type Options = Parameters<FaultWorld['runtime']>[1];

/** Bob registered, Alice in a conversation with him, and Bob's side of it. */
async function aliceAndBob(w: FaultWorld, options: { alice?: Options; bob?: Options } = {}) {
  const bob = w.runtime('bob', { host: host(), ...options.bob });
  await bob.runtime.register();
  const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
  const alice = w.runtime('alice', { host: host(), ...options.alice });
  const withBob = await alice.runtime.conversation(BOB);
  await withBob.send('hello');
  return { alice, bob, withBob, withAlice: await incoming };
}

describe('delivery under faults', () => {
  it(
    'a reader of the async iterator 10 000 behind: what is over is refused (503), never acknowledged and dropped',
    async () => {
      world = await faultWorld();
      const { withBob, withAlice } = await aliceAndBob(world);
      const ledger = new Ledger();
      // Bob's app reads with the iterator (its first next() makes it a reader), but only once
      // every send settled: it falls more than 10 000 behind.
      const iterator = withAlice[Symbol.asyncIterator]();
      const first = iterator.next();
      await ledger.stream(ALICE, withBob, 12_000, 500);
      void (async () => {
        for (let r = await first; !r.done; r = await iterator.next()) ledger.heard(r.value);
      })();
      const report = await ledger.check();
      expect(report.sent).toBe(12_000);
      expect(report.resolved).toBeGreaterThanOrEqual(10_000);
      expect(report.resolved + (report.notDelivered[503] ?? 0)).toBe(12_000);
    },
    CASE_MS,
  );

  // SIGKILL: the node also loses what it acknowledged and held, and the answers on their way;
  // the stubs ask again for what was not answered, and the far side answers a repeat.
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'a node ended (%s) mid-stream and started again: every send settles, none rejected that arrives, none lost or doubled',
    async (signal) => {
      world = await faultWorld();
      const w = world;
      const { withBob, withAlice } = await aliceAndBob(w);
      const ledger = new Ledger();
      ledger.listen(withAlice);
      const streaming = ledger.stream(ALICE, withBob, 3000, 200);
      await ledger.until(() => ledger.settled >= 500);
      await w.node.signal(signal);
      await w.node.start();
      await streaming;
      const report = await ledger.check();
      expect(report).toMatchObject({ sent: 3000, resolved: 3000, unknown: 0 });
    },
    CASE_MS,
  );

  it(
    'a node killed (SIGKILL) holding messages for a user who is away: asked for again, delivered once she is back',
    async () => {
      // What the node acknowledged and held only in its memory dies with it; the sends must not
      // hang: the stub keeps each request until its far side answers and sends it again.
      world = await faultWorld();
      const w = world;
      const { alice, withBob } = await aliceAndBob(w);
      const withCarol = await alice.runtime.conversation(CAROL);
      const ledger = new Ledger();
      const held = Array.from({ length: 5 }, () => ledger.send(ALICE, withCarol));
      // Answered by Bob: the node took everything before it (one socket, in order), Carol's too.
      await withBob.send('after the held ones');
      const down = new Promise<void>((r) => withCarol.on('status', (s) => s === 'disconnected' && r()));
      await w.node.signal('SIGKILL');
      await down;
      await w.node.start();
      const carol = w.runtime('carol', { host: host() });
      carol.runtime.on('conversation', (c) => ledger.listen(c));
      await carol.runtime.register();
      expect(await Promise.all(held)).toEqual(Array(5).fill('resolved'));
      expect(await ledger.check()).toMatchObject({ sent: 5, resolved: 5, unknown: 0 });
    },
    CASE_MS,
  );

  it(
    'a live swap to a version that exhausts its memory: rolled back, the app survives, nothing dropped',
    async () => {
      world = await faultWorld();
      const w = world;
      const unhandled: unknown[] = [];
      const onUnhandled = (err: unknown) => unhandled.push(err);
      process.on('unhandledRejection', onUnhandled);
      try {
        const { alice, withBob, withAlice } = await aliceAndBob(w, {
          // The bomb must bring the worker down before the swap's time-out.
          alice: { updates: { 'b.example': 'live' }, swapTimeoutMs: 15_000 },
          bob: { updates: { 'b.example': 'pin' } },
        });
        const ledger = new Ledger();
        ledger.listen(withAlice);
        const rollback = next<VersionEvent>(alice.runtime, 'version', (e) => e.change === 'rollback');
        const streaming = ledger.stream(ALICE, withBob, 2000, 100);
        await ledger.until(() => ledger.settled >= 200);
        await w.release(stubDir('memory-bomb'), '0.2.0');
        const event = await rollback;
        await streaming;
        const report = await ledger.check();
        expect(report).toMatchObject({ sent: 2000, resolved: 2000, unknown: 0 });
        expect(event).toMatchObject({
          peer: BOB,
          carrier: { version: '0.1.0' },
          attempted: { version: '0.2.0' },
        });
        expect((event.error!.cause as ProtoflyError).code).toBe('PF_ERR_MEMORY');
        expect(withBob.carrier.version).toBe('0.1.0');
        expect(withBob.status).toBe('live');
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
    CASE_MS,
  );

  it(
    'a release while the node is down is not refused: taken once the node is back, by running and new conversations',
    async () => {
      world = await faultWorld();
      const w = world;
      const { alice, withBob, withAlice } = await aliceAndBob(w, {
        alice: { updates: { 'b.example': 'live' }, swapTimeoutMs: 1000 },
        bob: { updates: { 'b.example': 'pin' } },
      });
      const ledger = new Ledger();
      ledger.listen(withAlice);
      const down = new Promise<void>((r) => withBob.on('status', (s) => s === 'disconnected' && r()));
      await w.node.signal('SIGKILL');
      await down;
      // Sent while the node is away: held by the stub, not failed.
      const streaming = ledger.stream(ALICE, withBob, 200, 50);
      const rollback = next<VersionEvent>(alice.runtime, 'version', (e) => e.change === 'rollback');
      await w.release(JSON_WS, '0.2.0');
      const failed = await rollback;
      expect(failed).toMatchObject({
        attempted: { version: '0.2.0' },
        error: { detail: { cause: 'PF_ERR_SWAP' } },
      });
      const swapped = next<VersionEvent>(
        alice.runtime,
        'version',
        (e) => e.change === 'swap' && e.peer === BOB,
      );
      await w.node.start();
      expect((await swapped).carrier.version).toBe('0.2.0');
      await streaming;
      expect(await ledger.check()).toMatchObject({ sent: 200, resolved: 200, unknown: 0 });
      expect((await alice.runtime.conversation(CAROL)).carrier.version).toBe('0.2.0');
    },
    CASE_MS,
  );

  it(
    'a send with a deadline while the node is down is withdrawn: rejected, and never delivered after the node is back',
    async () => {
      world = await faultWorld();
      const w = world;
      const { withBob, withAlice } = await aliceAndBob(w);
      const ledger = new Ledger();
      ledger.listen(withAlice);
      const down = new Promise<void>((r) => withBob.on('status', (s) => s === 'disconnected' && r()));
      await w.node.signal('SIGKILL');
      await down;
      // Held by the stub, never on the wire: withdrawn at their deadline.
      const outcomes = await Promise.all(
        [0, 1, 2].map(() => ledger.send(ALICE, withBob, { timeoutMs: 200 })),
      );
      expect(outcomes).toEqual(['not-delivered', 'not-delivered', 'not-delivered']);
      await w.node.start();
      // Sent after: arrives, and the withdrawn ones do not come with it.
      await ledger.send(ALICE, withBob);
      expect(await ledger.check()).toMatchObject({
        sent: 4,
        resolved: 1,
        notDelivered: { 408: 3 },
        arrived: 1,
      });
    },
    CASE_MS,
  );
});
