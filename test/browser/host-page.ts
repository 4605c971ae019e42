/**
 * The page where `hostConformance` runs against the browser host (test/browser/host-conformance.test.ts;
 * bundled, served as /host-page.js under the strict page policy): the same properties as in
 * Node (test/contracts/host.properties.ts), each with a fresh `BrowserWorkerHost` of the page.
 * The test hands over the verified test stubs (plain data) and drives it through `window.hostContract`.
 */
import type { StubDescriptor } from '../../core/generated/types.js';
import type { VerifiedPackage } from '../../core/plugin.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { BrowserWorkerHost } from '../../sandbox/browser/worker-host.js';
import { type HostPropertyKey, type HostTestStub, hostProperties } from '../contracts/host.properties.js';

type Package = VerifiedPackage<StubDescriptor>;
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
};

(globalThis as unknown as { hostContract: typeof hostContract }).hostContract = hostContract;
document.body.dataset.ready = 'yes';
