import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProtoflyError } from '../core/errors.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { Runtime, RuntimeEvents, VersionEvent } from '../runtime/runtime.js';
import type { SandboxHost } from '../sandbox/host.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import { layout } from '../server/catalogue/layout.js';
import { createCatalogueServer } from '../server/catalogue/server.js';
import { releaseStub } from '../server/release.js';
import { eventually } from './support/conversation.js';
import { type Domains, startDomains } from './support/domains.js';

/**
 * Hot swap, end to end: real domains (catalogue, identity, node), real runtimes with the
 * worker sandbox, and new versions of b.example's stub published into its catalogue while
 * conversations run.
 */

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const CAROL = 'user://b.example/carol';
const MIB = 1024 * 1024;
const JSON_WS = join(import.meta.dirname, '../plugins/stubs/json-ws');
const stub = (name: string) => join(import.meta.dirname, 'stubs', name);
/** Quick retries, so a test about an outage does not wait for the production back-off. */
const WATCH = { retryMs: 50, maxRetryMs: 200, pollMs: 100 };
/**
 * No stub here spins; the policy's 2 s ended a healthy worker (16 MiB ballast, collected) at a
 * load of 22 on two cores. The watchdog has its own test (sandbox-watchdog.test.ts).
 */
const WATCHDOG_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (m: Incoming) => (m.body as { text: string }).text;

/** Everything a runtime emits of one event, in order. */
function collect<K extends keyof RuntimeEvents>(rt: Runtime, event: K): Parameters<RuntimeEvents[K]>[0][] {
  const seen: Parameters<RuntimeEvents[K]>[0][] = [];
  rt.on(event, ((arg: Parameters<RuntimeEvents[K]>[0]) => seen.push(arg)) as RuntimeEvents[K]);
  return seen;
}

/** The texts a conversation receives from now on (and what it held for its first listener). */
function inbox(c: Conversation): string[] {
  const texts: string[] = [];
  c.on('message', (m) => texts.push(text(m)));
  return texts;
}

let host: NodeWorkerHost;
let domains: Domains | undefined;
/** The broken releases make the sandbox log their failures; the assertions look at the events. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  host = new NodeWorkerHost({ policy: developmentPolicy, log: quiet, watchdogMs: WATCHDOG_MS });
  await host.ready();
});
afterAll(() => host?.terminate());
afterEach(async () => {
  await domains?.close();
  domains = undefined;
});

async function fresh(): Promise<Domains> {
  domains = await startDomains(['a.example', 'b.example']);
  return domains;
}

/** Bob registered, Alice in a conversation with him; both runtimes with `options`. */
async function aliceAndBob(d: Domains, options: Parameters<Domains['runtime']>[1]) {
  const bob = d.runtime(BOB, options);
  await bob.runtime.register();
  const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
  const alice = d.runtime(ALICE, options);
  const withBob = await alice.runtime.conversation(BOB);
  await withBob.send('hello');
  const withAlice = await incoming;
  return { alice, bob, withBob, withAlice };
}

describe('live', () => {
  it('moves running conversations to a new version while 1000 messages are in flight each way: none lost, none doubled, order kept', async () => {
    const d = await fresh();
    const { alice, bob, withBob, withAlice } = await aliceAndBob(d, {
      host,
      updates: { 'b.example': 'live' },
      watch: WATCH,
    });
    const versions = { alice: collect(alice.runtime, 'version'), bob: collect(bob.runtime, 'version') };
    const unloaded = { alice: collect(alice.runtime, 'unload'), bob: collect(bob.runtime, 'unload') };
    const atBob = inbox(withAlice);
    const atAlice = inbox(withBob);
    let sent = 0;
    let sentAtSwap = -1;
    // The second half waits for Alice's swap: whatever the machine's speed, the swap comes in
    // the middle of the stream, with messages sent through the old version before it and the
    // new one after.
    const aliceSwapped = new Promise<void>((resolve) =>
      alice.runtime.on('version', (e) => {
        if (e.change !== 'swap') return;
        sentAtSwap = sent;
        resolve();
      }),
    );

    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      for (const [c, label] of [
        [withBob, 'a'],
        [withAlice, 'b'],
      ] as const) {
        sent++;
        sends.push(c.send(`${label}${i}`));
      }
      if (i === 100) void releaseStub(d.byName.get('b.example')!, { pluginDir: JSON_WS, version: '0.2.0' });
      if (i === 500) await aliceSwapped;
      // Paced, so that the swap happens while messages are sent and answered.
      if (i % 10 === 9) await sleep(1);
    }
    await Promise.all(sends);
    await eventually(() => atBob.length >= 1001 && atAlice.length >= 1000, 'every message delivered', 60_000);
    // Sent after all of them, each way: anything doubled would come before these.
    await Promise.all([withBob.send('a-end'), withAlice.send('b-end')]);
    await eventually(() => atBob.includes('a-end') && atAlice.includes('b-end'), 'the last ones');
    expect(atBob).toEqual(['hello', ...Array.from({ length: 1000 }, (_, i) => `a${i}`), 'a-end']);
    expect(atAlice).toEqual([...Array.from({ length: 1000 }, (_, i) => `b${i}`), 'b-end']);
    expect(sentAtSwap).toBeGreaterThan(200);
    expect(sentAtSwap).toBeLessThan(2000);

    // Both ends moved: Alice's conversation, Bob's conversation and Bob's inbox.
    const swaps = (events: VersionEvent[]) => events.filter((e) => e.change === 'swap');
    await eventually(
      () => swaps(versions.alice).length === 1 && swaps(versions.bob).length === 2,
      'the swaps',
    );
    expect(swaps(versions.alice)[0]).toMatchObject({
      peer: BOB,
      previous: { version: '0.1.0' },
      carrier: { domain: 'b.example', name: 'json-ws', version: '0.2.0' },
    });
    expect(
      swaps(versions.bob)
        .map((e) => e.peer ?? 'inbox')
        .sort(),
    ).toEqual(['inbox', ALICE]);
    expect([withBob.carrier.version, withAlice.carrier.version]).toEqual(['0.2.0', '0.2.0']);
    expect([withBob.status, withAlice.status]).toEqual(['live', 'live']);
    // The old version ran nothing any more: unloaded.
    await eventually(
      () => unloaded.alice.length === 1 && unloaded.bob.length === 1,
      'the old version unloaded',
    );
    expect(unloaded.alice[0]).toMatchObject({ version: '0.1.0' });

    // And the conversation goes on, on the new version.
    const reply = new Promise<Incoming>((resolve) => withBob.on('message', resolve));
    await withAlice.send('after');
    expect(text(await reply)).toBe('after');
    // 2000 messages through a swap: 14 s at a load of 20 on two cores, a second or two when idle.
  }, 120_000);

  it('evaluates the new version before it holds a conversation: what is sent meanwhile goes through the old one at once', async () => {
    const d = await fresh();
    // The worker host, whose preparation of 0.2.0 waits until the test opens the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let preparing!: () => void;
    const prepared = new Promise<void>((resolve) => {
      preparing = resolve;
    });
    const gated: SandboxHost = {
      instantiate: (pkg, ctx) => host.instantiate(pkg, ctx),
      prepare: async (pkg) => {
        if (pkg.descriptor.version === '0.2.0') {
          preparing();
          await gate;
        }
        return host.prepare(pkg);
      },
      unload: (pkg) => host.unload(pkg),
      ready: () => host.ready(),
      terminate: async () => {},
    };
    const { alice, withBob, withAlice } = await aliceAndBob(d, {
      host: gated,
      updates: { 'b.example': 'live' },
      watch: WATCH,
      swapTimeoutMs: 60_000,
    });
    const versions = collect(alice.runtime, 'version');
    const atBob = inbox(withAlice);
    await releaseStub(d.byName.get('b.example')!, { pluginDir: JSON_WS, version: '0.2.0' });
    await prepared;
    // Held, it would be answered only once the new version is live, after the gate opens.
    await withBob.send('while 0.2.0 is evaluated');
    expect(atBob).toEqual(['hello', 'while 0.2.0 is evaluated']);
    expect(versions.filter((e) => e.change === 'swap')).toEqual([]);
    expect(withBob.carrier.version).toBe('0.1.0');
    open();
    await eventually(() => versions.some((e) => e.change === 'swap'), 'the swap, once evaluated');
    expect(withBob.carrier.version).toBe('0.2.0');
    await withBob.send('after');
    await eventually(() => atBob.includes('after'), 'a message through the new version');
  }, 60_000);

  it('rolls back from a version that throws in activate, one that never goes live, and never takes one that fails verification', async () => {
    const d = await fresh();
    const b = d.byName.get('b.example')!;
    const { alice, withBob, withAlice } = await aliceAndBob(d, {
      host,
      updates: { 'b.example': 'live' },
      watch: WATCH,
      swapTimeoutMs: 500,
    });
    // Carol's runtime is fresh: it must have verified a good version before the broken ones come.
    const carol = d.runtime(CAROL, { host });
    await carol.runtime.register();
    const versions = collect(alice.runtime, 'version');
    const updates = collect(alice.runtime, 'update');
    const unloaded = collect(alice.runtime, 'unload');
    const errors: ProtoflyError[] = [];
    withBob.on('error', (err) => errors.push(err));
    const atBob = inbox(withAlice);
    const rollbacks = () => versions.filter((e) => e.change === 'rollback');

    // 0.2.0 throws in activate.
    await releaseStub(b, { pluginDir: stub('broken-activate'), version: '0.2.0' });
    await eventually(() => rollbacks().length === 1, 'the rollback from 0.2.0');
    // Messages sent meanwhile reached Bob through the old version.
    await withBob.send('during 0.2.0');
    expect(rollbacks()[0]).toMatchObject({
      peer: BOB,
      carrier: { version: '0.1.0' },
      attempted: { version: '0.2.0' },
      error: { code: 'PF_ERR_SWAP', detail: { from: '0.1.0', to: '0.2.0', cause: 'PF_ERR_SANDBOX' } },
    });
    expect(rollbacks()[0]!.error!.message).toMatch(
      /stays on b\.example\/json-ws@0\.1\.0, not b\.example\/json-ws@0\.2\.0: .*broken release/,
    );
    await eventually(() => unloaded.some((c) => c.version === '0.2.0'), 'the failed version unloaded');

    // 0.3.0 activates but never goes live: rolled back after the swap time-out.
    await releaseStub(b, { pluginDir: stub('never-live'), version: '0.3.0' });
    const sending = withBob.send('during 0.3.0');
    await eventually(() => rollbacks().length === 2, 'the rollback from 0.3.0');
    await sending;
    expect(rollbacks()[1]).toMatchObject({
      attempted: { version: '0.3.0' },
      error: { code: 'PF_ERR_SWAP', detail: { cause: 'PF_ERR_SWAP' } },
    });
    expect(rollbacks()[1]!.error!.message).toMatch(
      /json-ws@0\.3\.0 going live did not happen within the swap time-out of 500 ms/,
    );

    // 0.4.0's descriptor does not verify (its signature is 0.3.0's): refused, never activated.
    const cat = join(b.dataDir, 'catalogue');
    const descriptor = JSON.parse(await readFile(layout.descriptor(cat, 'stub', 'json-ws', '0.3.0'), 'utf8'));
    await writeFile(
      layout.descriptor(cat, 'stub', 'json-ws', '0.4.0'),
      JSON.stringify({ ...descriptor, version: '0.4.0' }),
    );
    await eventually(() => updates.some((u) => u.error?.code === 'PF_ERR_SIGNATURE'), 'the refusal of 0.4.0');
    expect(versions.filter((e) => e.change === 'swap')).toEqual([]);

    // Through all of it: the same version, live, nothing lost.
    expect(withBob.carrier.version).toBe('0.1.0');
    expect(withBob.status).toBe('live');
    expect(errors.map((e) => e.code)).toEqual(['PF_ERR_SWAP', 'PF_ERR_SWAP']);
    await withBob.send('after');
    await eventually(() => atBob.length === 4, 'every message delivered');
    expect(atBob).toEqual(['hello', 'during 0.2.0', 'during 0.3.0', 'after']);
    // A new conversation gets the version that works, not a refused one.
    expect((await alice.runtime.conversation(CAROL)).carrier.version).toBe('0.1.0');
  });
});

describe('new-conversations', () => {
  it('runs old and new side by side, then unloads the old: its compartment released, the worker heap back near the baseline', async () => {
    const d = await fresh();
    const b = d.byName.get('b.example')!;
    // Each version of the ballast stub holds 16 MiB: what a released compartment gives back.
    await releaseStub(b, { pluginDir: stub('ballast'), version: '0.2.0' });
    const bob = d.runtime(BOB, { host });
    const carol = d.runtime(CAROL, { host });
    await Promise.all([bob.runtime.register(), carol.runtime.register()]);
    const own = new NodeWorkerHost({ policy: developmentPolicy, log: quiet, watchdogMs: WATCHDOG_MS });
    try {
      const alice = d.runtime(ALICE, { host: own, watch: WATCH });
      const updates = collect(alice.runtime, 'update');
      const unloaded = collect(alice.runtime, 'unload');
      const withBob = await alice.runtime.conversation(BOB);
      await withBob.send('on 0.2.0');
      // The worker that runs b.example's versions (every worker also holds its warm-up package).
      const measure = async () => {
        const m = (await own.measure()).find((w) => w.packages.some((p) => p.startsWith('b.example/')))!;
        return { heap: m.heap, packages: m.packages.filter((p) => p.startsWith('b.example/')).sort() };
      };
      const baseline = await measure();
      expect(baseline.packages).toEqual(['b.example/json-ws@0.2.0']);

      await releaseStub(b, { pluginDir: stub('ballast'), version: '0.3.0' });
      await eventually(() => updates.some((u) => u.carrier?.version === '0.3.0'), 'the notice of 0.3.0');
      expect(updates[0]).toMatchObject({ policy: 'new-conversations', previous: { version: '0.2.0' } });
      const withCarol = await alice.runtime.conversation(CAROL);
      // Side by side: the running conversation kept its version, the new one has the new one.
      expect([withBob.carrier.version, withCarol.carrier.version]).toEqual(['0.2.0', '0.3.0']);
      await Promise.all([withBob.send('still on 0.2.0'), withCarol.send('on 0.3.0')]);
      const both = await measure();
      expect(both.packages).toEqual(['b.example/json-ws@0.2.0', 'b.example/json-ws@0.3.0']);
      expect(both.heap - baseline.heap).toBeGreaterThan(12 * MIB);

      // The old version's last conversation ends: unloaded, and its memory is freed.
      await withBob.close();
      await eventually(() => unloaded.length === 1, 'the old version unloaded');
      expect(unloaded[0]).toMatchObject({ version: '0.2.0' });
      const after = await measure();
      expect(after.packages).toEqual(['b.example/json-ws@0.3.0']);
      expect(both.heap - after.heap).toBeGreaterThan(12 * MIB);
      expect(Math.abs(after.heap - baseline.heap)).toBeLessThan(4 * MIB);
      await withCarol.send('goes on');
    } finally {
      await own.terminate();
    }
    // A worker host of its own, three releases and three runtimes: over 20 s at a load of 20 on two cores.
  }, 120_000);
});

describe('pin', () => {
  it('ignores new versions: running and new conversations keep the version first verified', async () => {
    const d = await fresh();
    const { alice, bob, withBob } = await aliceAndBob(d, {
      host,
      updates: { 'b.example': 'pin' },
      watch: WATCH,
    });
    const updates = collect(alice.runtime, 'update');
    // An observer that follows b.example live shows when the notice went out.
    const observer = d.runtime('user://a.example/dave', {
      host,
      updates: { 'b.example': 'live' },
      watch: WATCH,
    });
    const observed = collect(observer.runtime, 'version');
    await observer.runtime.conversation(BOB);
    await releaseStub(d.byName.get('b.example')!, { pluginDir: JSON_WS, version: '0.2.0' });
    await eventually(() => observed.some((e) => e.change === 'swap'), 'the observer swapped');

    expect(updates).toEqual([]);
    expect(withBob.carrier.version).toBe('0.1.0');
    const carol = d.runtime(CAROL, { host });
    await carol.runtime.register();
    expect((await alice.runtime.conversation(CAROL)).carrier.version).toBe('0.1.0');
    await withBob.send('still here');
    expect(bob.runtime.conversations.get(ALICE)?.carrier.version).toBe('0.1.0');
  });
});

describe('a catalogue that goes away', () => {
  it('leaves running conversations untouched, and new ones use the version verified before', async () => {
    const d = await fresh();
    const b = d.byName.get('b.example')!;
    // Alice reaches b.example's catalogue through a server of its own, which then goes away.
    const mirror = createCatalogueServer({ dir: join(b.dataDir, 'catalogue') });
    const catalogues = { ...d.catalogues, 'b.example': await mirror.listen() };
    const bob = d.runtime(BOB, { host });
    await bob.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));
    const alice = d.runtime(ALICE, { host, catalogues, updates: { 'b.example': 'live' }, watch: WATCH });
    const errors = collect(alice.runtime, 'error');
    const updates = collect(alice.runtime, 'update');
    const withBob = await alice.runtime.conversation(BOB);
    await withBob.send('before');
    const withAlice = await incoming;
    const atAlice = inbox(withBob);

    await mirror.close();
    // What answers on the mirror's port now takes each connection and drops it: a failed retry, counted.
    let retries = 0;
    const dropping = createServer((socket) => {
      retries++;
      socket.destroy();
    });
    await new Promise<void>((resolve) =>
      dropping.listen(Number(new URL(catalogues['b.example']).port), '127.0.0.1', resolve),
    );
    await eventually(() => errors.some((e) => e.code === 'PF_ERR_FETCH'), 'the outage reported');
    await Promise.all([withBob.send('during'), withAlice.send('during')]);
    await eventually(() => atAlice.length === 1, 'the reply');
    expect(withBob.status).toBe('live');
    expect(withBob.carrier.version).toBe('0.1.0');
    // One report for the outage, however many retries failed.
    const before = retries;
    await eventually(() => retries >= before + 3, 'three more failed retries');
    expect(errors.filter((e) => e.code === 'PF_ERR_FETCH')).toHaveLength(1);

    // A new conversation once the descriptor's max-age is over: the catalogue cannot be asked,
    // and the version verified before is still good.
    const carol = d.runtime(CAROL, { host });
    await carol.runtime.register();
    alice.loader.refresh('b.example');
    const withCarol = await alice.runtime.conversation(CAROL);
    expect(withCarol.carrier.version).toBe('0.1.0');
    expect(updates.at(-1)).toMatchObject({ domain: 'b.example', error: { code: 'PF_ERR_FETCH' } });
    dropping.close();
  });
});
