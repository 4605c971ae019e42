import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Message, request } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import type { StubContext } from '../core/stub.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { ConversationContext, SandboxHost, SandboxLogger, StubHandle } from '../sandbox/host.js';
import { IsolateHost } from '../sandbox/isolate/isolate-host.js';
import { loadIsolatedVm } from '../sandbox/isolate/isolated-vm.js';
import { NodeWorkerHost } from '../sandbox/node/worker-host.js';
import probeActivate from '../test/stubs/probe/index.js';
import { verifiedPackageOf } from '../test/support/packages.js';
import { alternate, type BenchOptions, type Result, result } from './harness.js';

/**
 * The sandbox's costs (needs `npm run build` first: the worker runs from dist/):
 * - cold package: verified package to a `live` instance, on a host whose warm spare is up
 *   (transform, evaluation in a fresh compartment, activate), for the small probe stub and for
 *   a ~50 KB one, the size of a real protocol stub;
 * - new conversation: another instance of a package already evaluated;
 * - round trip: host → stub → host for one ~300 B message, against the same stub called in
 *   process with a plain ctx (the baseline: what isolation adds).
 * Each for the worker host and, where isolated-vm loads (Node ≥ 24, `--no-node-snapshot`),
 * the isolate host, in the same run; the round trips of both hosts and the baseline alternate.
 */

const APP = 'user://a.example/alice';
const quiet: SandboxLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A conversation context whose stub messages go to `onSend`, and whose `live` goes to `onLive`. */
function context(onSend: (msg: Message) => void, onLive: () => void = () => {}): ConversationContext {
  return {
    identity: { address: APP },
    config: {},
    from: ['user://probe.test/', 'user://big.test/'],
    send: onSend,
    delegate: { onStatus: (status) => status === 'live' && onLive() },
  };
}

/** The same package under another domain: a package version no host has seen. */
function renamed(pkg: StubPackage, domain: string): StubPackage {
  return { ...pkg, descriptor: { ...pkg.descriptor, domain } };
}

/** A fresh host of one kind. */
type MakeHost = () => SandboxHost;
const workerHost: MakeHost = () => new NodeWorkerHost({ policy: developmentPolicy, log: quiet });
const isolatedVm = loadIsolatedVm();
const isolateHost: MakeHost | undefined =
  isolatedVm.ivm && (() => new IsolateHost(isolatedVm.ivm, { policy: developmentPolicy, log: quiet }));

/**
 * Milliseconds from `instantiate` to `live`, each time on a fresh host, once it is ready (the
 * worker host's spare up; an isolate is made by the instantiation, and counted).
 */
async function coldSamples(makeHost: MakeHost, pkg: StubPackage, rounds: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i <= rounds; i++) {
    const host = makeHost();
    await host.ready();
    const t0 = performance.now();
    let live = 0;
    await host.instantiate(
      renamed(pkg, `cold${i}.test`),
      context(
        () => {},
        () => (live = performance.now()),
      ),
    );
    // The first round warms esbuild and the JIT of this process.
    if (i > 0) samples.push(live - t0);
    await host.terminate();
  }
  return samples;
}

/** A ~50 KB stub: the probe plus a table, as a real protocol stub's grammar or tables would be. */
async function bigPackage(root: string): Promise<[StubPackage, () => Promise<void>]> {
  const dir = await mkdtemp(join(tmpdir(), 'pf-bench-sandbox-'));
  const plugin = join(dir, 'big');
  await mkdir(plugin);
  const table = Array.from({ length: 2500 }, (_, i) => `'entry-${i}-${'x'.repeat(8)}'`).join(',');
  await writeFile(join(plugin, 'table.ts'), `export const TABLE = [${table}];\n`);
  await writeFile(
    join(plugin, 'index.ts'),
    `import probe from ${JSON.stringify(join(root, 'test/stubs/probe/index.ts'))};\nimport { TABLE } from './table.js';\nexport default (ctx: never) => (TABLE.length > 0 ? probe(ctx) : undefined);\n`,
  );
  const manifest = JSON.parse(await readFile(join(root, 'test/stubs/probe/protofly.json'), 'utf8'));
  await writeFile(join(plugin, 'protofly.json'), JSON.stringify({ ...manifest, name: 'big' }));
  return [await verifiedPackageOf(plugin), () => rm(dir, { recursive: true, force: true })];
}

export default async function sandboxBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const rounds = quick ? 5 : 20;
  const probe = await verifiedPackageOf(join(root, 'test/stubs/probe'));
  const [big, cleanup] = await bigPackage(root);
  const coldSmall = await coldSamples(workerHost, probe, rounds);
  const coldBig = await coldSamples(workerHost, big, rounds);
  const isolateCold = isolateHost && (await coldSamples(isolateHost, probe, rounds));
  const isolateColdBig = isolateHost && (await coldSamples(isolateHost, big, rounds));
  await cleanup();
  if (!isolateHost) process.stderr.write(`  (no isolate host rows: ${isolatedVm.reason})\n`);

  const host = new NodeWorkerHost({ policy: developmentPolicy, log: quiet });
  await host.ready();
  let reply: (msg: Message) => void = () => {};
  const handle = await host.instantiate(
    probe,
    context((msg) => reply(msg)),
  );
  const isolates = isolateHost?.();
  const isolated: StubHandle | undefined = await isolates?.instantiate(
    probe,
    context((msg) => reply(msg)),
  );

  // The first instantiation took the warm spare, and a new spare is starting: waited for, so
  // that its start-up (a worker locking down) is not counted in the conversations.
  await host.ready();
  // New conversations on the evaluated package, stopped untimed; the first 50 warm the JIT.
  const conversations: number[] = [];
  for (let i = 0; i < (quick ? 60 : 350); i++) {
    const t0 = performance.now();
    const h = await host.instantiate(
      probe,
      context(() => {}),
    );
    if (i >= 50) conversations.push(performance.now() - t0);
    await h.stop();
  }

  // Round trips, one after the other: microseconds per trip, per batch.
  const msg = request('create', APP, 'user://probe.test/bob', { value: { text: 'x'.repeat(200) } });
  const batch = 200;
  const trips = (post: (m: Message) => void) => async () => {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) {
      const answered = new Promise<Message>((resolve) => {
        reply = resolve;
      });
      post(msg);
      await answered;
    }
    return ((performance.now() - t0) * 1000) / batch;
  };
  const inProcess = await probeActivate({ ...plainContext(), send: (m: Message) => reply(m) });
  // Each round: the worker host's batch, then the isolate host's, against the baseline's.
  const isolateTrips = isolated && trips((m) => isolated.postMessage(m));
  const throughIsolate: number[] = [];
  const workerTrips = trips((m) => handle.postMessage(m));
  const [boundary, plain] = await alternate(
    quick ? 10 : 50,
    async () => {
      const us = await workerTrips();
      if (isolateTrips) throughIsolate.push(await isolateTrips());
      return us;
    },
    trips((m) => inProcess.postMessage(m)),
  );
  // The warm-up round's isolate batch is not a sample.
  throughIsolate.shift();
  await host.terminate();
  await isolates?.terminate();

  return [
    result('sandbox: cold package (warm spare) to live, probe stub', 'ms', coldSmall),
    result('sandbox: cold package (warm spare) to live, 50 KB stub', 'ms', coldBig),
    result('sandbox: new conversation on an evaluated package', 'ms', conversations),
    result('sandbox: round trip host → stub → host, 300 B', 'µs', boundary, plain),
    ...(isolateCold && isolateColdBig
      ? [
          result('sandbox (isolate): cold package (new isolate) to live, probe stub', 'ms', isolateCold),
          result('sandbox (isolate): cold package (new isolate) to live, 50 KB stub', 'ms', isolateColdBig),
          result('sandbox (isolate): round trip host → stub → host, 300 B', 'µs', throughIsolate, plain),
        ]
      : []),
  ];
}

/** A bare in-process ctx: what the stub gets without a sandbox. */
function plainContext(): StubContext {
  const store = new Map<string, unknown>();
  return {
    domain: 'probe.test',
    identity: { address: APP },
    config: {},
    session: {
      get: (k) => store.get(k),
      set: (k, v) => void store.set(k, v),
      delete: (k) => void store.delete(k),
    },
    log: { debug() {}, info() {}, warn() {}, error() {} },
    send: () => {},
    connect: () => {
      throw new Error('no sockets in the baseline');
    },
    status: () => {},
    setTimeout: (fn, ms) => Number(setTimeout(fn, ms)),
    clearTimeout: (id) => clearTimeout(id),
    setInterval: (fn, ms) => Number(setInterval(fn, ms)),
    clearInterval: (id) => clearInterval(id),
  };
}
