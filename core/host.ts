import type { ProtoflyError } from './errors.js';
import type { Message } from './message.js';
import type { StubPackage } from './plugin.js';
import type { StubStatus } from './stub.js';

/**
 * The one interface every sandbox host implements (sandbox/ has them; it is declared here
 * because core, whose runtime uses it, depends on no other folder): the Node worker host (worker threads, SES
 * compartments), the inline host (trusted development stubs, no isolation) and, later, a
 * browser Web Worker host. Nothing here names a Node API.
 *
 * A host evaluates a verified package once per version and calls its `activate(ctx)` once per
 * conversation; the caller gets a {@link StubHandle} and hears about the instance through a
 * {@link StubHandleDelegate}.
 */
export interface SandboxHost {
  /**
   * Runs `pkg`'s stub for one conversation. Resolves once `activate` has returned; the stub's
   * own status reports (`connecting`, `live`, ...) reach `ctx.delegate`.
   *
   * @throws ProtoflyError `PF_ERR_SANDBOX` when the package cannot be evaluated or `activate`
   *   throws, `PF_ERR_WATCHDOG` / `PF_ERR_MEMORY` when its worker is terminated meanwhile,
   *   `PF_ERR_UNTRUSTED_DOMAIN` when this host may not run code of the package's domain,
   *   `PF_ERR_CLOSED` after {@link terminate}.
   */
  instantiate(pkg: StubPackage, ctx: ConversationContext): Promise<StubHandle>;
  /**
   * Evaluates `pkg` where its instances will run, ahead of its first {@link instantiate}, which
   * then only activates it: a live swap prepares the new version before it holds the
   * conversation, so that what the conversation waits for is the activation alone. The
   * evaluation is kept until {@link unload}; preparing again, or a package already running,
   * costs nothing.
   *
   * @throws what {@link instantiate} throws for the package's evaluation
   */
  prepare(pkg: StubPackage): Promise<void>;
  /**
   * The caller needs `pkg` no more (a newer version superseded it): its evaluation (the
   * compartment, and what the package's module holds) is dropped as soon as no instance of it
   * runs on this host, now or when the last one ends, so its memory can be collected. A later
   * {@link instantiate} of it evaluates it again.
   */
  unload(pkg: StubPackage): void;
  /** Resolves when the host can take a cold package without starting a worker (its warm spare is up). */
  ready(): Promise<void>;
  /** Stops every instance (status `stopped`), closes their sockets and ends the workers. */
  terminate(): Promise<void>;
}

/** What the runtime hands a host for one conversation. */
export interface ConversationContext {
  /** Names the conversation in logs and errors. Default: a counter. */
  readonly id?: string;
  /** Who the runtime is: the stub's `ctx.identity`. */
  readonly identity: { readonly address: string; readonly token?: string };
  /** The stub's `ctx.config`, already validated against the descriptor's configuration schema. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The stub's `ctx.snapshot`: JSON from another version's instance, in a live swap. */
  readonly snapshot?: unknown;
  /**
   * The `from` addresses the stub may send with: exact addresses, or prefixes ending in `/`.
   * Anything else it sends is refused with `PF_ERR_SPOOF`.
   */
  readonly from: readonly string[];
  /** Where the stub's messages go (the runtime bus), after validation. */
  send(msg: Message): void;
  readonly delegate?: StubHandleDelegate;
}

/** A running stub instance, seen from the runtime. */
export interface StubHandle {
  readonly id: string;
  readonly status: StubStatus;
  /**
   * Gives the stub a message from the bus. Asynchronous: the stub sees it later, in order.
   *
   * @throws ProtoflyError `PF_ERR_CLOSED` once the instance failed or stopped,
   *   `PF_ERR_QUEUE_FULL` when the stub has a window of messages it has not taken yet.
   */
  postMessage(msg: Message): void;
  /**
   * Calls the stub's `stop()`, clears its timers, and settles once it is `stopped`. Never
   * rejects. What the instance shares with others of its session (`ctx.session`, sockets)
   * stays with them.
   */
  stop(): Promise<void>;
  /** The stub's `snapshot()` as JSON, or undefined when it has none. */
  snapshot(): Promise<unknown>;
}

/** What a host tells the runtime about one instance (SIP.js-style delegate). */
export interface StubHandleDelegate {
  /**
   * The status changed: reported by the stub, or `failed` / `stopped` decided by the host.
   * `error` says why the host failed the instance (`PF_ERR_SANDBOX` the stub threw,
   * `PF_ERR_WATCHDOG`, `PF_ERR_MEMORY` its worker was terminated, ...).
   *
   * `failed` or `stopped` is final, whoever says it: the host stops the instance and passes
   * on nothing more from it (messages, statuses, refusals, logs); only the `stopped` that ends
   * a `failed` follows. An instance's end touches no other instance: the timers and sockets
   * of a failed one that its session's other instances may use go on for them.
   */
  onStatus?(status: StubStatus, detail: string | undefined, error?: ProtoflyError): void;
  /**
   * Something the stub did was refused and dropped; the instance goes on (`PF_ERR_SPOOF`,
   * `PF_ERR_SCHEMA`, `PF_ERR_FLOOD`, `PF_ERR_STATUS`, ...).
   */
  onRefused?(error: ProtoflyError): void;
}
