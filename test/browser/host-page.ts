import type { StubPackage } from '../../core/plugin.js';
import { Bus } from '../../runtime/bus.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { BrowserWorkerHost } from '../../sandbox/browser/worker-host.js';
import { type HostPropertyKey, type HostTestStub, hostProperties } from '../contracts/host.properties.js';
import { converse } from '../support/conversation.js';

type Package = StubPackage;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
let packages: Partial<Record<HostTestStub, Package>> = {};

const factory = {
  name: 'BrowserWorkerHost',
  create: ({ watchdogMs }: { watchdogMs?: number }) =>
    new BrowserWorkerHost({
      workerUrl: new URL('/browser-worker.js', location.origin),
      policy: developmentPolicy,
      log: silent,
      watchdogMs,
    }),
};

const hostContract = {
  /** The test stubs, verified in Node. */
  packages(given: Partial<Record<HostTestStub, Package>>): void {
    packages = given;
  },
  /** Runs one property; rejects with its failure, which names the host and the property. */
  run(key: HostPropertyKey): Promise<void> {
    return hostProperties[key](factory, async (folder) => {
      const pkg = packages[folder];
      if (!pkg) throw new Error(`the test did not hand over ${folder}`);
      return pkg;
    });
  },
  /**
   * The workers a fresh host has started: once its spare is up, once a stub on that spare is
   * activated and still connecting (a request answered meanwhile), and once it is live.
   */
  async spares(): Promise<number[]> {
    const pkg = packages['stubs/probe'];
    if (!pkg) throw new Error('the test did not hand over stubs/probe');
    let started = 0;
    let onStart = () => {};
    const PageWorker = globalThis.Worker;
    globalThis.Worker = class extends PageWorker {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        started++;
        onStart();
      }
    };
    const host = factory.create({});
    const bus = new Bus({ onError: () => {} });
    try {
      await host.ready();
      const counts = [started];
      const c = await converse(host, bus, pkg, { config: { connecting: true } });
      await c.echo('while connecting');
      counts.push(started);
      // Refilled already: the test says so, instead of waiting for a start that never comes.
      if (started > 1) return counts;
      const refilled = new Promise<void>((resolve) => {
        onStart = resolve;
      });
      await c.execute('status', { status: 'live' });
      await refilled;
      counts.push(started);
      return counts;
    } finally {
      globalThis.Worker = PageWorker;
      await host.terminate();
      bus.close();
    }
  },
};

(globalThis as unknown as { hostContract: typeof hostContract }).hostContract = hostContract;
document.body.dataset.ready = 'yes';
