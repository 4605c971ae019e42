import { join } from 'node:path';
import { CacheStore, MemoryStore, type Store } from '../core/store.js';
import { FileStore } from '../node/file-store.js';
import { protoflyHome } from '../node/home.js';
import { CatalogueClient } from '../runtime/catalogue.js';
import type { CheckEvent } from '../runtime/loader.js';
import { Loader } from '../runtime/loader.js';
import { PasswordLogin } from '../runtime/password-login.js';
import type { PolicyOption } from '../runtime/policy.js';
import { Runtime, type RuntimeIdentity, type RuntimeOptions } from '../runtime/runtime.js';
import { type TrustOptions, TrustStore } from '../runtime/trust.js';
import type { SandboxHost } from '../sandbox/host.js';
import { createNodeHost, type NodeHostChoice, type NodeHostKind } from '../sandbox/isolate/choose.js';
import type { NodeWorkerHostOptions } from '../sandbox/node/worker-host.js';

/** A runtime in Node with the usual parts: worker sandbox, verifying loader, stores on disk (or in memory). */
export interface NodeRuntimeOptions {
  /**
   * Who the runtime's user is: with `password`, a user of a protofly domain, logged in at the
   * home domain's token endpoint by the runtime itself (see runtime/password-login.ts); with
   * `token(audience)`, an app's own identity provider.
   */
  readonly identity: RuntimeIdentity | PasswordIdentity;
  /**
   * What any domain's descriptor may ask of this runtime (`schemas/runtime-policy.schema.json`):
   * the loader refuses what is outside it, and the host made here takes its ceilings and
   * address checks from it (a `host` handed in brings its own). Default: the safe default;
   * `'development'` also allows loopback, for tests, demos and a domain on one machine.
   */
  readonly policy?: PolicyOption;
  /** Catalogue base URL per domain, for domains not served at https://<domain>. */
  readonly catalogues?: Readonly<Record<string, string>>;
  /** Default: trust on first use. */
  readonly trust?: Omit<TrustOptions, 'store'>;
  /**
   * Where the keys trusted on first use (`trust/`), the newest versions seen and the verified
   * packages (`packages/`) are kept, so that a restart is neither a new first use nor blind to a
   * downgrade. Default: {@link protoflyHome} (`$PROTOFLY_HOME`, else `~/.protofly`), which
   * `protofly verify` uses too. `false`: memory only, gone with the process.
   */
  readonly dataDir?: string | false;
  /** Stub configuration per carrier domain. */
  readonly stubConfig?: RuntimeOptions['stubConfig'];
  readonly ranges?: Readonly<Record<string, string>>;
  /** A host to share between runtimes; otherwise one is made (and terminated on close). */
  readonly host?: SandboxHost;
  readonly hostOptions?: NodeWorkerHostOptions;
  /**
   * The host made when none is handed in: worker threads (the default), a child process per
   * sandbox (`process`: what V8 treats as fatal ends only that process; see SECURITY.md), or
   * same-thread isolates (`isolated-vm`, Node ≥ 24, `--no-node-snapshot`; not the default: see
   * sandbox/isolate/choose.ts); `sandbox` on the runtime says which runs, and why not isolates
   * when they were asked for.
   */
  readonly sandbox?: NodeHostKind;
  readonly onCheck?: (event: CheckEvent) => void;
  readonly liveTimeoutMs?: number;
  /** The update policy per carrier domain (`'*'`: the others); see {@link RuntimeOptions.updates}. */
  readonly updates?: RuntimeOptions['updates'];
  readonly swapTimeoutMs?: number;
  readonly holdLimit?: number;
  readonly watch?: RuntimeOptions['watch'];
}

/** A user of a protofly domain and their password. */
export interface PasswordIdentity {
  /** `user://<home-domain>/<name>`. */
  readonly address: string;
  readonly password: string;
}

/** A runtime and what it owns. */
export interface NodeRuntime {
  readonly runtime: Runtime;
  readonly loader: Loader;
  readonly host: SandboxHost;
  /** Which kind of host runs the stubs, and why not the one asked for; undefined for a `host` handed in. */
  readonly sandbox: Omit<NodeHostChoice, 'host'> | undefined;
  close(): Promise<void>;
}

/**
 * A runtime on Node. A data directory that is full or read-only fails only what must be
 * recorded (a key trusted on first use: `PF_ERR_STORAGE`); verified packages are a cache, so a
 * package that cannot be written is reported as an `error` event and the conversation opens.
 */
export function createNodeRuntime(options: NodeRuntimeOptions): NodeRuntime {
  const dataDir = options.dataDir ?? protoflyHome();
  const store = (name: string): Store =>
    dataDir === false ? new MemoryStore() : new FileStore(join(dataDir, name));
  const catalogue = new CatalogueClient({ catalogues: options.catalogues ?? {} });
  const loader = new Loader({
    trust: new TrustStore({ mode: 'tofu', ...options.trust, store: store('trust') }),
    catalogue,
    store: new CacheStore(store('packages'), (err) => runtime.fault(err)),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.ranges ? { ranges: options.ranges } : {}),
    ...(options.onCheck ? { onCheck: options.onCheck } : {}),
  });
  const made = options.host
    ? undefined
    : createNodeHost(options.sandbox, {
        ...(options.policy ? { policy: options.policy } : {}),
        ...options.hostOptions,
      });
  const host = options.host ?? (made as NodeHostChoice).host;
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
    sandbox: made && (made.fallback ? { kind: made.kind, fallback: made.fallback } : { kind: made.kind }),
    async close() {
      await runtime.close();
      if (!options.host) await host.terminate();
    },
  };
}
