import { ProtoflyError } from '../../core/errors.js';
import { descriptorKey, labelOf, type StubPackage } from '../../core/plugin.js';
import {
  type PolicyOption,
  type ResolvedPolicy,
  resolvePolicy,
  withinCeiling,
} from '../../runtime/policy.js';
import type { StubLimits, WorkerFrame } from '../channel.js';
import { consoleLogger, hostLimits } from '../defaults.js';
import { type Ending, endedError } from '../ended.js';
import { batched, each } from '../frame-batch.js';
import type { ConversationContext, SandboxHost, SandboxLogger, StubHandle } from '../host.js';
import { Sandbox } from '../sandbox.js';
import { bundleScript } from '../script.js';
import type { SocketFactory } from '../sockets.js';
import { WorkerLink } from '../worker-link.js';
import { openBrowserWebSocket } from './websocket.js';

export interface BrowserWorkerHostOptions {
  /**
   * The sandbox worker script (`dist/browser-worker.js`), served from the page's own origin:
   * a module worker, which a `worker-src 'self'` policy allows. Stubs are evaluated in SES
   * compartments there, which evaluate code: that script's own response may carry a policy
   * with `'unsafe-eval'` (a dedicated worker's policy is its script's), the page's need not.
   */
  readonly workerUrl: string | URL;
  /** The runtime policy: ceilings and the addresses stubs may connect to. Default: the safe default. */
  readonly policy?: PolicyOption;
  /** The heartbeat watchdog's limit, in ms (ceiling of the descriptors'). Default: the policy's. */
  readonly watchdogMs?: number;
  /** A worker with no conversation for this long is ended, in ms. Default 60000. */
  readonly idleMs?: number;
  readonly limits?: Partial<StubLimits>;
  readonly log?: SandboxLogger;
  readonly openSocket?: SocketFactory;
  /**
   * Keeps a warm spare worker (started, SES locked down, idle) for the next carrier domain, so a
   * cold stub load pays no worker start. Default true; false: a worker starts when a package
   * needs one (a page that wants no idle worker).
   */
  readonly spare?: boolean;
}

/** One Web Worker, the link to it and the sandbox it is. */
interface Slot {
  readonly worker: Worker;
  readonly link: WorkerLink;
  readonly sandbox: Sandbox;
  /** Its carrier domain and watchdog limit, once placed (a spare has none yet). */
  key: string;
  /** Host-side only (the heartbeat's limit), so a spare takes any. */
  watchdogMs: number;
  /** How long it has owed a heartbeat answer, counting only time the page's thread ran. */
  silence: number;
  pending: number;
  idleSince?: number;
}

/**
 * The browser host: each carrier domain's stubs in a dedicated module Web Worker under SES
 * `lockdown()`, one Compartment per package version; the same host side as in Node (sandbox.ts:
 * frame checks, sessions, credit; socket-bridge.ts: the sockets, held by the page and checked
 * against the runtime policy) over a {@link WorkerLink}. A warm spare worker (started and locked
 * down, idle) takes the next carrier domain, and a new spare starts once the stub on it is past
 * connecting. A heartbeat watchdog ends a worker that
 * stops answering (a busy loop), failing its conversations with `PF_ERR_WATCHDOG`, as in Node.
 * What a browser does not offer: a heap limit for a worker (Chromium's heap reading is reported,
 * not enforced; a page's memory is bounded by the browser's per-tab limit alone), an array-buffer
 * meter, and a worker of its own per package; so a domain's stubs share its worker. Packages
 * must be `protofly publish` bundles (the browser has no transform for other module text).
 */
export class BrowserWorkerHost implements SandboxHost {
  readonly #options: BrowserWorkerHostOptions;
  readonly #policy: ResolvedPolicy;
  readonly #limits: StubLimits;
  readonly #log: SandboxLogger;
  readonly #watchdogMs: number;
  readonly #idleMs: number;
  readonly #period: number;
  readonly #slots = new Map<string, Slot>();
  readonly #watchdog: ReturnType<typeof setInterval>;
  #spare: Slot | undefined;
  #lastTick = performance.now();
  #spawned = 0;
  #closed = false;

  constructor(options: BrowserWorkerHostOptions) {
    this.#options = options;
    this.#policy = resolvePolicy(options.policy);
    // The page's WebSocket verifies with the browser's own trust store: nothing can add to it.
    if (this.#policy.ca.length > 0) {
      throw new ProtoflyError(
        'PF_ERR_POLICY',
        "the runtime policy's tls.ca names certificate authorities, which a browser host cannot add to the browser's own (install the CA in the browser or system instead) (policy key tls.ca)",
        { policy: 'tls.ca' },
      );
    }
    this.#limits = hostLimits(this.#policy, options.limits);
    this.#log = options.log ?? consoleLogger;
    this.#watchdogMs = options.watchdogMs ?? this.#policy.limits.watchdogMs;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#period = this.#watchdogMs / 4;
    this.#watchdog = setInterval(() => this.#tick(), this.#period);
    if (options.spare ?? true) this.#spare = this.#spawn();
  }

  ready(): Promise<void> {
    return this.#spare?.sandbox.ready ?? Promise.resolve();
  }

  async instantiate(pkg: StubPackage, ctx: ConversationContext): Promise<StubHandle> {
    const script = this.#script(pkg);
    const { slot, fromSpare } = this.#placeFor(pkg);
    // The next spare starts once this instance is past connecting (live, or given up): its
    // worker start and lockdown take a core for tens of ms, which the stub's socket opening
    // and authentication would otherwise wait behind.
    let refilled = !fromSpare;
    const refill = () => {
      if (refilled) return;
      refilled = true;
      this.#refill();
    };
    const delegate = ctx.delegate;
    const settled: ConversationContext = {
      ...ctx,
      delegate: {
        ...delegate,
        onStatus: (status, detail, error) => {
          delegate?.onStatus?.(status, detail, error);
          // After the task, so that what waits on this status (the app's `live`) runs first.
          if (status !== 'created' && status !== 'connecting') setTimeout(refill, 0);
        },
      },
    };
    try {
      return await this.#use(slot, (sandbox) => sandbox.instantiate(pkg, script, settled));
    } catch (err) {
      refill();
      throw err;
    }
  }

  async prepare(pkg: StubPackage): Promise<void> {
    const script = this.#script(pkg);
    const { slot, fromSpare } = this.#placeFor(pkg);
    try {
      await this.#use(slot, (sandbox) => sandbox.prepare(pkg, script));
    } finally {
      // Nothing to wait for here (no socket being opened): the next spare starts now.
      if (fromSpare) this.#refill();
    }
  }

  /** `use` of `slot`'s sandbox once it is ready, counted pending meanwhile (the idle sweep spares it). */
  async #use<T>(slot: Slot, use: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    slot.pending++;
    try {
      await slot.sandbox.ready;
      return await use(slot.sandbox);
    } finally {
      slot.pending--;
    }
  }

  /** The script of `pkg`: a `protofly publish` bundle, the only package form this host runs. */
  #script(pkg: StubPackage): string {
    if (this.#closed) throw new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    const script = bundleScript(pkg.source);
    if (script === undefined) {
      throw new ProtoflyError(
        'PF_ERR_SANDBOX',
        `package ${labelOf(pkg)} is not a protofly publish bundle, the only package form the browser sandbox runs`,
        { package: labelOf(pkg) },
      );
    }
    return script;
  }

  /** The worker for `pkg`'s carrier domain and watchdog limit. */
  #placeFor(pkg: StubPackage): { slot: Slot; fromSpare: boolean } {
    const watchdogMs = withinCeiling(pkg.descriptor, 'watchdogMs', this.#watchdogMs);
    return this.#place(`${pkg.descriptor.domain} ${watchdogMs}`, watchdogMs);
  }

  unload(pkg: StubPackage): void {
    const key = descriptorKey(pkg.descriptor);
    for (const slot of this.#slots.values()) slot.sandbox.unload(key);
  }

  async terminate(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#slots.values()].map((slot) => slot.sandbox.stopAll()));
    clearInterval(this.#watchdog);
    const closed = new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    const spare = this.#spare;
    if (spare) this.#end(spare, closed);
    for (const slot of [...this.#slots.values()]) this.#end(slot, closed);
  }

  /** The worker for `key` (a carrier domain and its watchdog limit): its own, else the spare, else a new one. */
  #place(key: string, watchdogMs: number): { slot: Slot; fromSpare: boolean } {
    const current = this.#slots.get(key);
    if (current && !current.link.dead) return { slot: current, fromSpare: false };
    const spare = this.#spare;
    const fromSpare = spare !== undefined && !spare.link.dead;
    if (fromSpare) this.#spare = undefined;
    const slot = fromSpare ? spare : this.#spawn();
    slot.key = key;
    slot.watchdogMs = watchdogMs;
    this.#slots.set(key, slot);
    return { slot, fromSpare };
  }

  /** Starts a new spare unless one is up, the host is closed or keeps none. */
  #refill(): void {
    if (this.#closed || this.#options.spare === false || (this.#spare && !this.#spare.link.dead)) return;
    this.#spare = this.#spawn();
  }

  /** A new worker, not yet placed. */
  #spawn(): Slot {
    this.#spawned += 1;
    const label = `worker ${this.#spawned}`;
    const worker = new Worker(this.#options.workerUrl, {
      type: 'module',
      name: `protofly-sandbox-${this.#spawned}`,
    });
    const link = new WorkerLink(
      batched((sent) => worker.postMessage(sent)),
      {
        label,
        limits: this.#limits,
        log: this.#log,
      },
    );
    const sandbox = new Sandbox(link, {
      runtime: 'browser',
      limits: this.#limits,
      policy: this.#policy,
      log: this.#log,
      openSocket: this.#options.openSocket ?? openBrowserWebSocket,
    });
    const slot: Slot = {
      worker,
      link,
      sandbox,
      key: '',
      watchdogMs: this.#watchdogMs,
      silence: 0,
      pending: 0,
    };
    const receive = each<WorkerFrame>((frame) => link.receive(frame));
    worker.onmessage = (event: MessageEvent<WorkerFrame | WorkerFrame[]>) => receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#end(
        slot,
        this.#error(slot, {
          code: 'PF_ERR_SANDBOX',
          what: `crashed: ${event.message || 'the worker script failed'}`,
        }),
      );
    };
    worker.onmessageerror = () =>
      this.#end(
        slot,
        this.#error(slot, { code: 'PF_ERR_SANDBOX', what: 'sent a frame the page could not read' }),
      );
    return slot;
  }

  /**
   * Heartbeat: pings every worker, ends those that owed an answer for their `watchdogMs` and
   * those idle for `idleMs`. Silence counts the page's own running time (at most a period per
   * beat), so a page the browser throttled (a background tab) blames no worker for it.
   */
  #tick(): void {
    const now = performance.now();
    const ran = Math.min(now - this.#lastTick, this.#period);
    this.#lastTick = now;
    for (const slot of [...this.#slots.values()]) {
      if (slot.pending === 0 && slot.sandbox.conversations === 0) {
        slot.idleSince ??= now;
        if (now - slot.idleSince >= this.#idleMs) {
          this.#end(
            slot,
            new ProtoflyError('PF_ERR_CLOSED', `sandbox ${slot.link.label} was idle for ${this.#idleMs} ms`),
          );
          continue;
        }
      } else slot.idleSince = undefined;
      const owes = slot.link.started && slot.link.pongs < slot.link.pings;
      slot.silence = owes ? slot.silence + ran : 0;
      if (slot.silence > slot.watchdogMs) {
        this.#end(
          slot,
          this.#error(slot, { code: 'PF_ERR_WATCHDOG', ms: slot.silence, limitMs: slot.watchdogMs }),
        );
        continue;
      }
      slot.link.ping();
    }
  }

  #end(slot: Slot, err: ProtoflyError): void {
    if (this.#spare === slot) this.#spare = undefined;
    else if (this.#slots.get(slot.key) === slot) this.#slots.delete(slot.key);
    else return;
    slot.link.die(err);
    if (err.code === 'PF_ERR_CLOSED') this.#log.debug({ sandbox: slot.link.label }, err.message);
    else this.#log.warn({ sandbox: slot.link.label, code: err.code }, err.message);
    slot.worker.terminate();
  }

  #error(slot: Slot, ending: Ending): ProtoflyError {
    return endedError(slot.link.label, slot.sandbox.packages, ending);
  }
}
