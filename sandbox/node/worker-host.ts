// Over 400 lines, for one thing: the pool of worker slots. Placement, the warm spare, the
// watchdog and the heap sampler all read and end the same slots through one #end, so they
// stay in one class rather than in parts that share a slot's mutable state.
import { ProtoflyError } from '../../core/errors.js';
import type { StubDescriptor } from '../../core/generated/types.js';
import { descriptorKey, type StubPackage } from '../../core/plugin.js';
import {
  type PolicyOption,
  type ResolvedPolicy,
  resolvePolicy,
  withinCeiling,
} from '../../runtime/policy.js';
import type { StubLimits } from '../channel.js';
import { consoleLogger, hostLimits } from '../defaults.js';
import { type Ending, endedError } from '../ended.js';
import type { ConversationContext, MeasuredHost, SandboxLogger, SandboxMemory, StubHandle } from '../host.js';
import { Sandbox } from '../sandbox.js';
import type { SocketFactory } from '../sockets.js';
import { WorkerLink } from '../worker-link.js';
import { sandboxWorkerUrl } from './locate.js';
import { type Isolation, type Sandboxed, spawnSandbox, threadHeapReadable } from './spawn.js';
import { ScriptCache, warmTransform } from './transform.js';
import { openWebSocket } from './websocket.js';

export interface NodeWorkerHostOptions {
  /**
   * The runtime policy: the ceilings below when they are not given, and the addresses stubs
   * may connect to (checked on the URL and on what DNS answers). Default: the safe default.
   */
  readonly policy?: PolicyOption;
  /**
   * Heap of a package's worker, in MiB: the ceiling of its descriptor's `constraints.memoryMb`,
   * and what it gets when it names none. Default: the policy's `limits.memoryMb`.
   */
  readonly memoryMb?: number;
  /**
   * A worker that does not answer its heartbeat for this long is terminated, in ms: the ceiling
   * of its packages' `constraints.watchdogMs`. Default: the policy's `limits.watchdogMs`. The
   * heartbeat runs every quarter of this, so a package that asks for less is held to it at
   * that granularity.
   */
  readonly watchdogMs?: number;
  /** A worker with no conversation for this long is ended, with the packages evaluated in it, in ms. Default 60000. */
  readonly idleMs?: number;
  /**
   * Packages with the same key may share a worker (when their memory and watchdog limits are equal too).
   * Default: the descriptor's domain, so a domain's stubs can only hurt each other. A package
   * that was on a worker that crashed gets a worker of its own from then on.
   */
  readonly shareKey?: (descriptor: StubDescriptor) => string;
  readonly limits?: Partial<StubLimits>;
  readonly log?: SandboxLogger;
  readonly openSocket?: SocketFactory;
  /** The worker script. Default: `dist/sandbox-worker.js`, found by {@link sandboxWorkerUrl}. */
  readonly workerUrl?: URL;
  /**
   * Worker threads (the default), or a child process per sandbox, which also contains what V8
   * treats as fatal (see spawn.ts). Default: `thread`.
   */
  readonly isolation?: Isolation;
}

/**
 * What a worker needs on top of its package's `memoryMb`: SES, the supervisor and the channel
 * take about 8 MiB of heap (measured on Node 20), so the package's budget is its own.
 */
export const RUNTIME_HEAP_MB = 16;
const MIB = 1024 * 1024;

/**
 * Young generation of a sandbox worker, in MiB (8 MiB semi-spaces). When V8 reaches a worker's
 * heap limit, Node ends the worker and grants the collection under way 16 MiB more; a
 * scavenge that promotes more than that at once ends the whole process with V8's fatal OOM.
 * Node 24's default young generation for a worker is 192 MiB (64 MiB semi-spaces; Node 20:
 * 48), so a heap bomb of small strings did exactly that there.
 */
const YOUNG_MB = 24;

/**
 * Whether the host bounds each worker's heap itself, by sampling it every {@link SAMPLE_MS}
 * (Node ≥ 22.16), rather than by V8's heap limit alone. At V8's limit a single allocation
 * bigger than the 16 MiB grace (one array that grows, one long string) ends the whole process,
 * on Node 20 as on 24; so where the host can sample, V8's limit is set {@link HEADROOM_MB}
 * higher, and the sample ends the worker first.
 */
export const heapSampled = threadHeapReadable;
/**
 * How often the host reads each worker's heap, in ms. The sample is answered at the worker's
 * next interrupt check, so a synchronous loop is sampled too.
 */
export const SAMPLE_MS = 50;
/**
 * V8's limit over the sampled one, in MiB: V8's largest single object (a string or an array's
 * elements, 1 GiB) plus what a stub allocates between two samples.
 */
export const HEADROOM_MB = 1280;

/** One worker (a thread or a process), the link to it and the sandbox it is. */
interface Slot {
  readonly worker: Sandboxed;
  readonly link: WorkerLink;
  readonly sandbox: Sandbox;
  readonly memoryMb: number;
  /** How long it may leave a heartbeat unanswered, in ms. */
  readonly watchdogMs: number;
  /** Packages (`domain/name`) placed here. */
  readonly units: Set<string>;
  /** The sharing group it serves, once taken. */
  group?: string;
  /** Instantiations under way here. */
  pending: number;
  /** performance.now() since which it has had no conversation, nor one under way. */
  idleSince?: number;
  /** How long it has owed a heartbeat answer, counting only time the host's own thread ran. */
  silence: number;
  /** Heap snapshots {@link NodeWorkerHost.measure} has under way in it: its thread is the host's meanwhile. */
  measuring: number;
  /** A heap sample is under way: one at a time, however long the worker takes to answer. */
  sampling: boolean;
  /** Its sandbox is not up yet (`Sandbox.ready`). */
  starting: boolean;
}

/**
 * The default host: worker threads with heap limits, SES `lockdown()` inside each, one
 * Compartment per package version. A warm spare worker (started and locked down, idle) takes
 * the next cold package, and a new spare starts once that package is running. A heartbeat
 * watchdog terminates a worker that stops answering (a busy loop) or holds more memory
 * outside its heap than its limit (array buffers); where {@link heapSampled}, a sampler ends a
 * worker whose heap is over its limit; the conversations on a terminated worker
 * fail with a coded error, and the next `instantiate` for them starts afresh.
 */
export class NodeWorkerHost implements MeasuredHost {
  readonly #memoryMb: number;
  readonly #watchdogMs: number;
  readonly #idleMs: number;
  readonly #shareKey: (descriptor: StubDescriptor) => string;
  readonly #limits: StubLimits;
  readonly #policy: ResolvedPolicy;
  readonly #log: SandboxLogger;
  readonly #openSocket: SocketFactory;
  readonly #workerUrl: URL;
  readonly #isolation: Isolation;
  readonly #scripts = new ScriptCache();
  readonly #slots = new Set<Slot>();
  readonly #byUnit = new Map<string, Slot>();
  readonly #byGroup = new Map<string, Slot>();
  /** Packages that get a worker of their own. */
  readonly #isolated = new Set<string>();
  readonly #watchdog: ReturnType<typeof setInterval>;
  /** Reads every worker's heap, where {@link heapSampled}. */
  readonly #sampler: ReturnType<typeof setInterval> | undefined;
  /** The heartbeat period: a quarter of `watchdogMs`. */
  readonly #period: number;
  /** performance.now() of the last heartbeat. */
  #lastTick = performance.now();
  #spare: Slot | undefined;
  #spawned = 0;
  #closed = false;

  constructor(options: NodeWorkerHostOptions = {}) {
    this.#policy = resolvePolicy(options.policy);
    this.#memoryMb = options.memoryMb ?? this.#policy.limits.memoryMb;
    this.#watchdogMs = options.watchdogMs ?? this.#policy.limits.watchdogMs;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#shareKey = options.shareKey ?? ((d) => d.domain);
    this.#limits = hostLimits(this.#policy, options.limits);
    this.#log = options.log ?? consoleLogger;
    this.#openSocket = options.openSocket ?? openWebSocket;
    this.#workerUrl = options.workerUrl ?? sandboxWorkerUrl();
    this.#isolation = options.isolation ?? 'thread';
    warmTransform();
    this.#spare = this.#spawn(this.#memoryMb, this.#watchdogMs);
    this.#period = this.#watchdogMs / 4;
    this.#watchdog = setInterval(() => this.#tick(), this.#period);
    this.#watchdog.unref();
    if (this.#sampled) {
      this.#sampler = setInterval(() => this.#sample(), SAMPLE_MS);
      this.#sampler.unref();
    }
  }

  ready(): Promise<void> {
    return this.#spare?.sandbox.ready ?? Promise.resolve();
  }

  instantiate(pkg: StubPackage, ctx: ConversationContext): Promise<StubHandle> {
    return this.#inSandbox(pkg, (sandbox, script) => sandbox.instantiate(pkg, script, ctx));
  }

  prepare(pkg: StubPackage): Promise<void> {
    return this.#inSandbox(pkg, (sandbox, script) => sandbox.prepare(pkg, script));
  }

  /** Runs `use` with the sandbox `pkg` belongs in, once it is up, and the package's script. */
  async #inSandbox<T>(pkg: StubPackage, use: (sandbox: Sandbox, script: string) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    const script = this.#scripts.get(pkg);
    const { slot, fromSpare } = this.#place(pkg.descriptor);
    slot.pending++;
    this.#hold(slot);
    try {
      await slot.sandbox.ready;
      return await use(slot.sandbox, await script);
    } finally {
      slot.pending--;
      this.#hold(slot);
      // Started after the cold package is running, so the two do not compete for a core.
      if (fromSpare) this.#refill();
    }
  }

  unload(pkg: StubPackage): void {
    this.#scripts.forget(pkg);
    const key = descriptorKey(pkg.descriptor);
    for (const slot of this.#slots) slot.sandbox.unload(key);
  }

  /**
   * Each worker's memory (the warm spare's aside) after full garbage collections. A collection
   * is forced by taking a heap snapshot (V8 collects before it snapshots), which is read and
   * dropped; two are taken, since some of V8's caches let go of what they hold only as
   * collections age them.
   */
  async measure(): Promise<SandboxMemory[]> {
    const slots = [...this.#slots].filter((slot) => slot !== this.#spare && !slot.link.dead);
    return Promise.all(
      slots.map(async (slot) => {
        const { collect } = slot.worker;
        slot.measuring++;
        try {
          await collect?.();
        } finally {
          slot.measuring--;
        }
        // A sandbox the host cannot collect from outside collects itself.
        const { heap, external } = await slot.link.measure(collect === undefined);
        return { sandbox: slot.link.label, packages: slot.sandbox.packages, heap, external };
      }),
    );
  }

  async terminate(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The watchdog keeps running meanwhile: a stub stuck in a loop cannot hold up the stop.
    await Promise.all([...this.#slots].map((slot) => slot.sandbox.stopAll()));
    clearInterval(this.#watchdog);
    clearInterval(this.#sampler);
    const closed = new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    await Promise.all([...this.#slots].map((slot) => this.#end(slot, closed)));
  }

  /**
   * Chooses the worker for a package: where it already runs, else its group's, else the spare
   * or a new one; with the memory and watchdog limits its descriptor asks for, within the host's.
   *
   * @throws ProtoflyError `PF_ERR_POLICY` when the descriptor asks for more than the host's.
   */
  #place(descriptor: StubDescriptor): { slot: Slot; fromSpare: boolean } {
    const unit = `${descriptor.domain}/${descriptor.name}`;
    const memoryMb = withinCeiling(descriptor, 'memoryMb', this.#memoryMb);
    const watchdogMs = withinCeiling(descriptor, 'watchdogMs', this.#watchdogMs);
    const fits = (slot: Slot | undefined): slot is Slot =>
      slot !== undefined && !slot.link.dead && slot.memoryMb === memoryMb && slot.watchdogMs === watchdogMs;
    const current = this.#byUnit.get(unit);
    if (fits(current)) return { slot: current, fromSpare: false };
    const share = this.#isolated.has(unit) ? `alone ${unit}` : `share ${this.#shareKey(descriptor)}`;
    const group = `${share} ${memoryMb} ${watchdogMs}`;
    let slot = this.#byGroup.get(group);
    let fromSpare = false;
    if (!slot || slot.link.dead) {
      const spare = this.#spare;
      fromSpare = fits(spare);
      if (fromSpare) this.#spare = undefined;
      slot = fromSpare && spare ? spare : this.#spawn(memoryMb, watchdogMs);
      slot.group = group;
      this.#byGroup.set(group, slot);
    }
    slot.units.add(unit);
    this.#byUnit.set(unit, slot);
    return { slot, fromSpare };
  }

  #spawn(memoryMb: number, watchdogMs: number): Slot {
    this.#spawned += 1;
    const label = `${this.#isolation === 'process' ? 'process' : 'worker'} ${this.#spawned}`;
    // Filled in below: the link needs the worker to post to, the worker the slot to report to.
    let slot!: Slot;
    const worker = spawnSandbox({
      isolation: this.#isolation,
      script: this.#workerUrl,
      name: `protofly-sandbox-${this.#spawned}`,
      memoryMb,
      // Where the host samples heaps, V8's own limit is set higher, and the sample ends it first.
      heapMb: memoryMb + RUNTIME_HEAP_MB + (this.#sampled ? HEADROOM_MB : 0),
      youngMb: YOUNG_MB,
      arrayBufferBytes: memoryMb * MIB,
      onFrame: (frame) => {
        if (frame.t !== 'memory') return slot.link.receive(frame);
        void this.#end(
          slot,
          this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb, held: frame.held, wanted: frame.bytes }),
        );
      },
      onEnd: (ending) => void this.#end(slot, this.#error(slot, ending)),
    });
    const link = new WorkerLink((frame) => worker.post(frame), {
      label,
      limits: this.#limits,
      log: this.#log,
    });
    const sandbox = new Sandbox(link, {
      runtime: 'node',
      limits: this.#limits,
      policy: this.#policy,
      log: this.#log,
      openSocket: this.#openSocket,
    });
    slot = {
      worker,
      link,
      sandbox,
      memoryMb,
      watchdogMs,
      units: new Set(),
      pending: 0,
      silence: 0,
      measuring: 0,
      sampling: false,
      starting: true,
    };
    this.#slots.add(slot);
    this.#hold(slot);
    const up = () => {
      slot.starting = false;
      this.#hold(slot);
    };
    sandbox.ready.then(up, up);
    return slot;
  }

  /**
   * Lets `slot` keep the process alive only while someone waits on it: as it starts, and while
   * a package is being placed in it. Otherwise a sandbox never does (its sockets live in the
   * host, and hold the process themselves).
   */
  #hold(slot: Slot): void {
    slot.worker.keepAlive(slot.starting || slot.pending > 0);
  }

  /** Starts a new spare unless one is up (or the host is closed). */
  #refill(): void {
    if (this.#closed || (this.#spare && !this.#spare.link.dead)) return;
    this.#spare = this.#spawn(this.#memoryMb, this.#watchdogMs);
  }

  /**
   * Heartbeat: pings every worker, and ends those that have owed an answer for `watchdogMs`,
   * hold too much memory, or have been idle for `idleMs`.
   *
   * A worker's silence is counted in the host's running time: each heartbeat adds the time
   * since the last one, but never more than a period. When the host's own thread stalls (a GC
   * pause, slow app code, the process stopped), the late heartbeat adds one period however
   * long the stall, and the workers get fresh pings and further heartbeats before any is
   * judged: the host blames a worker only for its own unresponsiveness.
   */
  #tick(): void {
    const now = performance.now();
    const ran = Math.min(now - this.#lastTick, this.#period);
    this.#lastTick = now;
    const suspects: { slot: Slot; asked: number }[] = [];
    for (const slot of this.#slots) {
      if (this.#idle(slot, now)) {
        const idle = new ProtoflyError(
          'PF_ERR_CLOSED',
          `sandbox ${slot.link.label} was idle for ${this.#idleMs} ms`,
        );
        void this.#end(slot, idle);
        continue;
      }
      const limitMb = slot.memoryMb + RUNTIME_HEAP_MB;
      if (slot.link.external > limitMb * MIB) {
        const outside = slot.link.external;
        void this.#end(slot, this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb: slot.memoryMb, outside }));
        continue;
      }
      // A worker still starting, or taking a heap snapshot for the host, runs none of a stub's
      // code: the time is not its silence.
      const owes = slot.link.started && slot.measuring === 0 && slot.link.pongs < slot.link.pings;
      slot.silence = owes ? slot.silence + ran : 0;
      if (slot.silence > slot.watchdogMs) suspects.push({ slot, asked: slot.link.pings });
      slot.link.ping();
    }
    if (suspects.length === 0) return;
    // Confirm after this turn's I/O: an answer may be waiting behind a host that was itself busy.
    setImmediate(() => {
      for (const { slot, asked } of suspects) {
        if (slot.link.pongs >= asked) continue;
        void this.#end(
          slot,
          this.#error(slot, { code: 'PF_ERR_WATCHDOG', ms: slot.silence, limitMs: slot.watchdogMs }),
        );
      }
    });
  }

  /**
   * Reads each worker's heap and ends those over their package's `memoryMb` plus the runtime's
   * share. The heap read counts garbage not yet collected; with short-lived garbage dying in
   * the young generation, a stub holding 44 MiB under heavy churn read at most 52 MiB (46 MiB
   * under V8's limit alone).
   */
  #sample(): void {
    for (const slot of this.#slots) {
      const readHeap = slot.worker.readHeap;
      if (slot.sampling || !readHeap) continue;
      slot.sampling = true;
      readHeap().then(
        (heap) => {
          slot.sampling = false;
          const limit = (slot.memoryMb + RUNTIME_HEAP_MB) * MIB;
          if (heap <= limit) return;
          const error = this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb: slot.memoryMb, heap });
          void this.#end(slot, error);
        },
        // Not running yet, or ended meanwhile: nothing to read.
        () => {
          slot.sampling = false;
        },
      );
    }
  }

  /** True when `slot` (not the spare) has had nothing to do for `idleMs`; notes when it became idle. */
  #idle(slot: Slot, now: number): boolean {
    if (slot === this.#spare || slot.pending > 0 || slot.sandbox.conversations > 0) {
      slot.idleSince = undefined;
      return false;
    }
    slot.idleSince ??= now;
    return now - slot.idleSince >= this.#idleMs;
  }

  /**
   * Ends a worker: everything on it fails with `err`. When it crashed (any code but
   * `PF_ERR_CLOSED`), the packages that shared it get a worker each from now on: one of them
   * misbehaved, and nothing says which.
   */
  async #end(slot: Slot, err: ProtoflyError): Promise<void> {
    if (!this.#slots.delete(slot)) return;
    slot.link.die(err);
    const crashed = err.code !== 'PF_ERR_CLOSED';
    if (this.#spare === slot) this.#spare = undefined;
    if (slot.group !== undefined && this.#byGroup.get(slot.group) === slot) this.#byGroup.delete(slot.group);
    for (const unit of slot.units) {
      if (this.#byUnit.get(unit) === slot) this.#byUnit.delete(unit);
      if (crashed && slot.units.size > 1) this.#isolated.add(unit);
    }
    if (crashed) this.#log.warn({ sandbox: slot.link.label, code: err.code }, err.message);
    else this.#log.debug({ sandbox: slot.link.label }, err.message);
    this.#refill();
    await slot.worker.terminate();
  }

  /** Whether heaps are sampled: threads, where the host can read them (processes end at V8's limit alone, by themselves). */
  get #sampled(): boolean {
    return this.#isolation === 'thread' && heapSampled;
  }

  #error(slot: Slot, ending: Ending): ProtoflyError {
    return endedError(slot.link.label, [...slot.units], ending);
  }
}
