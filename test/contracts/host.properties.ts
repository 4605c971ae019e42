import { ProtoflyError } from '../../core/errors.js';
import { request } from '../../core/message.js';
import type { StubPackage } from '../../core/plugin.js';
import { Bus } from '../../runtime/bus.js';
import type { MeasuredHost, SandboxHost } from '../../sandbox/host.js';
import { converse, eventually, type TestConversation } from '../support/conversation.js';

/**
 * `hostConformance`'s properties (test/contracts/host.contract.ts registers them), apart from
 * the registration and from Node: a page bundles this file and runs the same properties
 * against the browser host in Chromium (test/browser/host-conformance.test.ts). Each is a plain
 * async function of the host's factory and of where its test stubs come from.
 */

/** How the properties make a host: `watchdogMs` is for the CPU property (a host without a watchdog ignores it). */
export interface HostFactory {
  readonly name: string;
  create(options: { watchdogMs?: number }): SandboxHost;
}

/** The test stubs the properties run, by folder under test/. */
export const HOST_TEST_STUBS = [
  'stubs/probe',
  'attacks/attack-throw',
  'attacks/attack-loop',
  'attacks/attack-memory',
] as const;
export type HostTestStub = (typeof HOST_TEST_STUBS)[number];
/** Their domains (`<name>.test`): a host that runs trusted domains only must trust these. */
export const HOST_TEST_DOMAINS = HOST_TEST_STUBS.map((folder) => `${folder.split('/')[1]}.test`);
/** A test stub, published, signed and verified for real (test/support/packages.ts, in Node). */
export type HostTestPackages = (folder: HostTestStub) => Promise<StubPackage>;

/** One property: runs against a fresh host of `factory`. */
export type HostProperty = (factory: HostFactory, packages: HostTestPackages) => Promise<void>;

/** Runs `body` with a fresh host and bus, ended after; failures name the host and the property. */
function property(
  title: string,
  body: (host: SandboxHost, bus: Bus, stub: HostTestPackages) => Promise<void>,
  options: { watchdogMs?: number } = {},
): HostProperty {
  return async (factory, packages) => {
    const host = factory.create(options);
    const bus = new Bus({ onError: () => {} });
    try {
      await body(host, bus, packages);
    } catch (err) {
      throw new Error(`${factory.name}: ${title}: ${(err as Error).message}`, { cause: err });
    } finally {
      await host.terminate();
      bus.close();
    }
  };
}

function check(ok: boolean, why: string): asserts ok {
  if (!ok) throw new Error(why);
}

const statuses = (c: TestConversation) => c.statuses.map((s) => s.status);
/** The code `fn` threw, or 'nothing'. */
function thrownCode(fn: () => unknown): string {
  try {
    fn();
    return 'nothing';
  } catch (err) {
    return err instanceof ProtoflyError ? err.code : String(err);
  }
}
/** The error an instance failed with, once it failed. */
async function failure(c: TestConversation, what: string, ms?: number): Promise<ProtoflyError | undefined> {
  // `failed`, then the host stops it: the status it reported says.
  await eventually(() => statuses(c).includes('failed'), what, ms);
  return c.statuses.find((s) => s.status === 'failed')?.error;
}

/** Conversations the measure property opens: enough that what they hold stands far above a collection's noise. */
const MEASURED = 200;

export const TITLES = {
  runs: 'loads a verified package and runs its stub: live, a request answered, stopped',
  prepares:
    'prepares a package ahead of its first conversation: evaluated before it, run by it, dropped by unload once none runs',
  reaches: "passes a stub's statuses and its own messages to the runtime",
  isolates: 'fails a stub that throws, and only its instance: its neighbours go on',
  timers: "clears a conversation's timers when it ends",
  closed: 'throws PF_ERR_CLOSED for a stopped or failed instance, and once terminated',
  memory: 'ends a stub over its memory limit with PF_ERR_MEMORY, and runs the next',
  cpu: 'ends a stub that holds its thread with PF_ERR_WATCHDOG, and runs the next',
  measure:
    "measure() names each sandbox's packages and counts what its conversations hold, not what they let go",
} as const;

/** The properties, by key: `hostConformance` registers them in this order. */
export const hostProperties: Record<keyof typeof TITLES, HostProperty> = {
  runs: property(TITLES.runs, async (host, bus, stub) => {
    const c = await converse(host, bus, await stub('stubs/probe'));
    const answer = await c.echo('hello');
    check(answer.body.code === 200, `the request was answered ${JSON.stringify(answer.body)}`);
    await c.handle.stop();
    check(c.handle.status === 'stopped', `after stop() the instance is ${c.handle.status}`);
    check(statuses(c).join() === 'live,stopped', `the runtime heard ${statuses(c)}, not live then stopped`);
  }),

  prepares: property(TITLES.prepares, async (host, bus, stub) => {
    const probe = await stub('stubs/probe');
    const { domain, name, version } = probe.descriptor;
    const label = `${domain}/${name}@${version}`;
    const measured = host as Partial<MeasuredHost>;
    /** Whether a sandbox lists the probe as evaluated (where the host can tell). */
    const evaluated = async () => (await measured.measure!()).some((m) => m.packages.includes(label));
    await host.prepare(probe);
    if (measured.measure) check(await evaluated(), `prepared, ${label} is not evaluated in any sandbox`);
    // Again, or for a package already evaluated: nothing more.
    await host.prepare(probe);
    const c = await converse(host, bus, probe);
    check((await c.echo('prepared')).body.code === 200, 'the prepared package did not run');
    await c.handle.stop();
    c.detach();
    host.unload(probe);
    if (measured.measure)
      check(!(await evaluated()), `unloaded with nothing running, ${label} is still evaluated`);
    // Unloaded, it is evaluated afresh for the next conversation.
    const again = await converse(host, bus, probe);
    check((await again.echo('again')).body.code === 200, 'the package did not run again after unload');
  }),

  reaches: property(TITLES.reaches, async (host, bus, stub) => {
    const c = await converse(host, bus, await stub('stubs/probe'));
    await c.execute('status', { status: 'disconnected' });
    await c.execute('status', { status: 'live' });
    check(statuses(c).join() === 'live,disconnected,live', `the runtime heard ${statuses(c)}`);
    // A message the stub sends on its own (a timer's), not an answer.
    await c.execute('timer', { ms: 1 });
    await eventually(() => c.updates.length > 0, "the timer's message reaches the runtime");
    check(c.updates[0]!.type === 'update', `the runtime got ${JSON.stringify(c.updates[0])}`);
  }),

  isolates: property(TITLES.isolates, async (host, bus, stub) => {
    const pkg = await stub('attacks/attack-throw');
    const neighbour = await converse(host, bus, pkg);
    const other = await converse(host, bus, await stub('stubs/probe'));
    const thrower = await converse(host, bus, pkg);
    void thrower.execute('throw');
    const error = await failure(thrower, 'the stub that threw fails');
    check(error?.code === 'PF_ERR_SANDBOX', `it failed with ${error?.code}, not PF_ERR_SANDBOX`);
    for (const c of [neighbour, other]) {
      check(c.handle.status === 'live', `a neighbour is ${c.handle.status}`);
      const answer = await c.echo('still here');
      check(answer.body.code === 200, `a neighbour answered ${JSON.stringify(answer.body)}`);
    }
  }),

  timers: property(TITLES.timers, async (host, bus, stub) => {
    const c = await converse(host, bus, await stub('stubs/probe'));
    await c.execute('timer', { ms: 5, repeat: true });
    await eventually(() => c.updates.length >= 2, 'two ticks');
    await c.handle.stop();
    const ticks = c.updates.length;
    // A timer of the same period, started after the stop, ticks three times: one the stop left would have ticked meanwhile.
    const witness = await converse(host, bus, await stub('stubs/probe'));
    await witness.execute('timer', { ms: 5, repeat: true });
    await eventually(() => witness.updates.length >= 3, 'three ticks of the witness');
    check(
      c.updates.length === ticks,
      `the stopped conversation's timer ticked ${c.updates.length - ticks} more times`,
    );
  }),

  closed: property(TITLES.closed, async (host, bus, stub) => {
    const probe = await stub('stubs/probe');
    const c = await converse(host, bus, probe);
    const msg = request('create', c.app, c.peer, { value: 'late' });
    await c.handle.stop();
    check(
      thrownCode(() => c.handle.postMessage(msg)) === 'PF_ERR_CLOSED',
      'a stopped instance took a message',
    );
    const f = await converse(host, bus, probe);
    await f.execute('fail', { code: 'PF_ERR_AUTH', detail: 'refused' });
    await failure(f, 'the instance fails');
    check(
      thrownCode(() => f.handle.postMessage(msg)) === 'PF_ERR_CLOSED',
      'a failed instance took a message',
    );
    await host.terminate();
    const code = await converse(host, bus, probe).then(
      () => 'nothing',
      (err: ProtoflyError) => err.code,
    );
    check(code === 'PF_ERR_CLOSED', `a terminated host's instantiate gave ${code}`);
  }),

  memory: property(TITLES.memory, async (host, bus, stub) => {
    const c = await converse(host, bus, await stub('attacks/attack-memory'));
    await c.execute('bomb', { shape: 'strings' });
    // Filling 80 MiB a MiB at a time took up to 9 s on a loaded machine.
    const error = await failure(c, 'the heap bomb is ended', 60_000);
    check(error?.code === 'PF_ERR_MEMORY', `it failed with ${error?.code}, not PF_ERR_MEMORY`);
    const next = await converse(host, bus, await stub('stubs/probe'));
    check((await next.echo('after')).body.code === 200, 'the next stub did not run');
  }),

  cpu: property(
    TITLES.cpu,
    async (host, bus, stub) => {
      const c = await converse(host, bus, await stub('attacks/attack-loop'));
      void c.execute('spin');
      const error = await failure(c, 'the loop is ended');
      check(error?.code === 'PF_ERR_WATCHDOG', `it failed with ${error?.code}, not PF_ERR_WATCHDOG`);
      const next = await converse(host, bus, await stub('stubs/probe'));
      check((await next.echo('after')).body.code === 200, 'the next stub did not run');
    },
    { watchdogMs: 500 },
  ),
  measure: property(TITLES.measure, async (host, bus, stub) => {
    const measured = host as Partial<MeasuredHost>;
    check(typeof measured.measure === 'function', 'it has no measure()');
    const probe = await stub('stubs/probe');
    const { domain, name, version } = probe.descriptor;
    const label = `${domain}/${name}@${version}`;
    const other = await stub('attacks/attack-throw');
    const first = await converse(host, bus, probe);
    await converse(host, bus, other);
    /** Bytes the probe's sandbox holds; it is listed once, with its package, apart from the other domain's. */
    const held = async () => {
      const all = await measured.measure!();
      const mine = all.filter((m) => m.packages.includes(label));
      check(mine.length === 1, `${mine.length} sandboxes list ${label}: ${JSON.stringify(all)}`);
      const { packages, heap, external } = mine[0]!;
      check(
        !packages.some((p) => p.startsWith(`${other.descriptor.domain}/`)),
        `${packages} share a sandbox`,
      );
      check(heap > 0 && external >= 0, `it read heap ${heap}, external ${external}`);
      return heap + external;
    };
    const before = await held();
    const many: TestConversation[] = [];
    for (let i = 0; i < MEASURED; i++) many.push(await converse(host, bus, probe));
    const during = await held();
    for (const c of many) {
      await c.handle.stop();
      c.detach();
    }
    const after = await held();
    const grown = during - before;
    // An instance holds its ctx, its timers' and session's tables and the stub's closures: kilobytes.
    check(grown >= MEASURED * 1024, `${MEASURED} more conversations read as ${grown} bytes more`);
    check(after - before < grown / 2, `after they stopped it read ${after - before} of their ${grown} bytes`);
    check((await first.echo('still here')).body.code === 200, 'the first conversation did not answer');
  }),
};

/** A property's key. */
export type HostPropertyKey = keyof typeof hostProperties;
