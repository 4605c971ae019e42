import { IdbStore, openDatabase } from '../browser/idb-store.js';
import { CacheStore, MemoryStore, type Store } from '../core/store.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import { type CheckEvent, Loader } from '../runtime/loader.js';
import { PasswordLogin } from '../runtime/password-login.js';
import type { PolicyOption } from '../runtime/policy.js';
import { Runtime, type RuntimeIdentity, type RuntimeOptions } from '../runtime/runtime.js';
import { type TrustOptions, TrustStore } from '../runtime/trust.js';
import { BrowserWorkerHost, type BrowserWorkerHostOptions } from '../sandbox/browser/worker-host.js';
import type { SandboxHost } from '../sandbox/host.js';
import type { PasswordIdentity } from './node-runtime.js';

/** A runtime in a page: the Web Worker sandbox, the verifying loader, stores in IndexedDB. */
export interface BrowserRuntimeOptions {
  /** As in Node: `password` logs in at the home domain's token endpoint; `token(audience)` is the app's own. */
  readonly identity: RuntimeIdentity | PasswordIdentity;
  /** The sandbox worker script, `dist/browser-worker.js` served from the page's origin. */
  readonly workerUrl: string | URL;
  /** What any domain's descriptor may ask of this runtime. Default: the safe default. */
  readonly policy?: PolicyOption;
  /** Catalogue base URL per domain, for domains not served at https://<domain>. */
  readonly catalogues?: Readonly<Record<string, string>>;
  /** Default: trust on first use. */
  readonly trust?: Omit<TrustOptions, 'store'>;
  /**
   * The IndexedDB database that keeps the keys trusted on first use, the newest versions seen
   * and the verified packages across page loads. Default `protofly`; `false`: memory only.
   */
  readonly database?: string | false;
  readonly stubConfig?: RuntimeOptions['stubConfig'];
  readonly ranges?: Readonly<Record<string, string>>;
  /** A host to share between runtimes; otherwise one is made (and terminated on close). */
  readonly host?: SandboxHost;
  readonly hostOptions?: Omit<BrowserWorkerHostOptions, 'workerUrl' | 'policy'>;
  readonly onCheck?: (event: CheckEvent) => void;
  readonly liveTimeoutMs?: number;
  readonly updates?: RuntimeOptions['updates'];
  readonly swapTimeoutMs?: number;
  readonly holdLimit?: number;
  readonly watch?: RuntimeOptions['watch'];
}

/** A runtime and what it owns. */
export interface BrowserRuntime {
  readonly runtime: Runtime;
  readonly loader: Loader;
  readonly host: SandboxHost;
  close(): Promise<void>;
}

/**
 * A runtime in a browser page, with the same `Runtime` and `Conversation` as in Node
 * (entry/node-runtime.ts): descriptors verified with the page's WebCrypto (Ed25519; where the
 * browser lacks it, every stub is refused with `PF_ERR_SIGNATURE`), stubs run in Web Workers
 * under SES, sockets opened by the page after the policy's checks, catalogues' update streams
 * read with the page's EventSource.
 */
export function createBrowserRuntime(options: BrowserRuntimeOptions): BrowserRuntime {
  const database = options.database ?? 'protofly';
  const db = database === false ? undefined : openDatabase(database, ['trust', 'packages']);
  // Not awaited here: a refusal surfaces at the first read or write, as PF_ERR_STORAGE.
  db?.catch(() => {});
  const store = (name: string): Store => (db ? new IdbStore(db, name) : new MemoryStore());
  // Update streams with the page's EventSource (the browser parses them and holds the connection).
  const catalogue = new CatalogueClient({ catalogues: options.catalogues ?? {}, eventSource: EventSource });
  const loader = new Loader({
    trust: new TrustStore({ mode: 'tofu', ...options.trust, store: store('trust') }),
    catalogue,
    store: new CacheStore(store('packages'), (err) => runtime.fault(err)),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.ranges ? { ranges: options.ranges } : {}),
    ...(options.onCheck ? { onCheck: options.onCheck } : {}),
  });
  const host =
    options.host ??
    new BrowserWorkerHost({
      workerUrl: options.workerUrl,
      ...(options.policy ? { policy: options.policy } : {}),
      ...options.hostOptions,
    });
  const runtime = new Runtime({
    identity:
      'password' in options.identity
        ? new PasswordLogin({ ...options.identity, catalogue })
        : options.identity,
    loader,
    host,
    ...(options.stubConfig ? { stubConfig: options.stubConfig } : {}),
    ...(options.liveTimeoutMs ? { liveTimeoutMs: options.liveTimeoutMs } : {}),
    ...(options.updates ? { updates: options.updates } : {}),
    ...(options.swapTimeoutMs ? { swapTimeoutMs: options.swapTimeoutMs } : {}),
    ...(options.holdLimit ? { holdLimit: options.holdLimit } : {}),
    ...(options.watch ? { watch: options.watch } : {}),
  });
  return {
    runtime,
    loader,
    host,
    async close() {
      await runtime.close();
      if (!options.host) await host.terminate();
      (await db?.catch(() => undefined))?.close();
    },
  };
}
