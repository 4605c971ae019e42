// A little over 400 lines, for one thing: the isolates of one host. Placement, the limits (heap,
// array buffers, call time) and ending an isolate with its conversations read and change the
// same isolates, so they stay in one class, as in the worker host.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { ProtoflyError } from '../../core/errors.js';
import type { StubDescriptor } from '../../core/generated/types.js';
import { descriptorKey, type StubPackage } from '../../core/plugin.js';
import {
  type PolicyOption,
  type ResolvedPolicy,
  resolvePolicy,
  withinCeiling,
} from '../../runtime/policy.js';
import type { HostFrame, StubLimits, WorkerFrame } from '../channel.js';
import { consoleLogger, hostLimits } from '../defaults.js';
import { type Ending, endedError } from '../ended.js';
import type { ConversationContext, MeasuredHost, SandboxLogger, SandboxMemory, StubHandle } from '../host.js';
import { sandboxScriptUrl } from '../node/locate.js';
import { ScriptCache, warmTransform } from '../node/transform.js';
import { openWebSocket } from '../node/websocket.js';
import { HEADROOM_MB, RUNTIME_HEAP_MB, SAMPLE_MS } from '../node/worker-host.js';
import { Sandbox } from '../sandbox.js';
import type { SocketFactory } from '../sockets.js';
import { WorkerLink } from '../worker-link.js';
import type { Isolate, IsolateContext, IsolatedVm, IsolateReference } from './isolated-vm.js';
import { runSubtle } from './subtle.js';

export interface IsolateHostOptions {
  /** The runtime policy: the ceilings of memory and time, and the addresses stubs may connect to. */
  readonly policy?: PolicyOption;
  /** Heap of a package's isolate, in MiB (ceiling of the descriptors'). Default: the policy's. */
  readonly memoryMb?: number;
  /**
   * The time one call into an isolate may take, in ms (ceiling of the descriptors'): a message,
   * a timer, a socket event. Over it, the isolate is ended (`PF_ERR_WATCHDOG`). Default: the
   * policy's `limits.watchdogMs`.
   */
  readonly watchdogMs?: number;
  readonly limits?: Partial<StubLimits>;
  /** Packages with the same key share an isolate. Default: the carrier domain. */
  readonly shareKey?: (descriptor: StubDescriptor) => string;
  readonly log?: SandboxLogger;
  readonly openSocket?: SocketFactory;
  /** The isolate script. Default: `dist/sandbox-isolate.js`. */
  readonly isolateUrl?: URL;
}

const MIB = 1024 * 1024;
/** A call into an isolate this long is followed by a heap read; a stub's usual call takes well under 1 ms. */
const LONG_CALL_MS = 10;

/** One isolate, the link to it and the sandbox it is. */
interface Slot {
  readonly isolate: Isolate;
  readonly receive: IsolateReference;
  readonly fire: IsolateReference;
  readonly settle: IsolateReference;
  readonly link: WorkerLink;
  readonly sandbox: Sandbox;
  readonly group: string;
  readonly memoryMb: number;
  readonly watchdogMs: number;
  /** The stubs' timers, held here: the isolate runs only when the host calls it. */
  readonly timers: Map<number, ReturnType<typeof setTimeout>>;
  /** Packages (`domain/name`) placed here. */
  readonly units: Set<string>;
  /** Batches of frames the isolate posted, read after its call returned. */
  inbox: string[];
  /** Frames for the isolate posted this turn: they go in together, in one call. */
  outbox: HostFrame[];
  /** Why it ended, once it did: nothing more goes in. */
  ended?: ProtoflyError;
  /** The context {@link IsolateHost.measure} collects garbage from, once it has measured. */
  collector?: IsolateContext;
}

/**
 * The same-thread host: each carrier domain's stubs in a V8 isolate of their own
 * (`isolated-vm`), with SES `lockdown()` inside and one Compartment per package version, over
 * the same host side as the worker host (sandbox.ts, socket-bridge.ts). A call into an isolate
 * runs on the host's thread, so a round trip wakes no thread. Limits, from the runtime's
 * policy: the isolate's heap, read between calls ({@link IsolateHost.#sample}), its array
 * buffers, metered where they are made (isolate-meter.ts), both `PF_ERR_MEMORY`; and the time
 * of each call (a call over `watchdogMs` is ended: `PF_ERR_WATCHDOG`). Each ends the isolate
 * and fails its conversations, and the packages that shared it get an isolate each from then
 * on; other isolates go on. Timers and sockets are the host's.
 */
export class IsolateHost implements MeasuredHost {
  readonly #ivm: IsolatedVm;
  readonly #policy: ResolvedPolicy;
  readonly #limits: StubLimits;
  readonly #memoryMb: number;
  readonly #watchdogMs: number;
  readonly #log: SandboxLogger;
  readonly #openSocket: SocketFactory;
  readonly #shareKey: (descriptor: StubDescriptor) => string;
  readonly #source: string;
  readonly #scripts = new ScriptCache();
  readonly #slots = new Map<string, Slot>();
  /** Packages that get an isolate of their own. */
  readonly #alone = new Set<string>();
  /** Reads every isolate's heap between calls (see {@link IsolateHost.#sample}). */
  readonly #sampler: ReturnType<typeof setInterval>;
  /** V8's code cache of the isolate script, from the first isolate: later ones skip parsing it. */
  #cachedData: object | undefined;
  #made = 0;
  #closed = false;

  constructor(ivm: IsolatedVm, options: IsolateHostOptions = {}) {
    this.#ivm = ivm;
    this.#policy = resolvePolicy(options.policy);
    this.#limits = hostLimits(this.#policy, options.limits);
    this.#memoryMb = options.memoryMb ?? this.#policy.limits.memoryMb;
    this.#watchdogMs = options.watchdogMs ?? this.#policy.limits.watchdogMs;
    this.#log = options.log ?? consoleLogger;
    this.#openSocket = options.openSocket ?? openWebSocket;
    this.#shareKey = options.shareKey ?? ((d) => d.domain);
    this.#source = readFileSync(
      fileURLToPath(options.isolateUrl ?? sandboxScriptUrl('sandbox-isolate.js')),
      'utf8',
    );
    warmTransform();
    this.#sampler = setInterval(() => this.#sample(), SAMPLE_MS);
    this.#sampler.unref();
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  instantiate(pkg: StubPackage, ctx: ConversationContext): Promise<StubHandle> {
    return this.#inSandbox(pkg, (sandbox, script) => sandbox.instantiate(pkg, script, ctx));
  }

  prepare(pkg: StubPackage): Promise<void> {
    return this.#inSandbox(pkg, (sandbox, script) => sandbox.prepare(pkg, script));
  }

  /** Runs `use` with the isolate `pkg` belongs in, once it is up, and the package's script. */
  async #inSandbox<T>(pkg: StubPackage, use: (sandbox: Sandbox, script: string) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    const script = this.#scripts.get(pkg);
    const slot = this.#place(pkg.descriptor);
    await slot.sandbox.ready;
    return use(slot.sandbox, await script);
  }

  unload(pkg: StubPackage): void {
    this.#scripts.forget(pkg);
    const key = descriptorKey(pkg.descriptor);
    for (const slot of this.#slots.values()) slot.sandbox.unload(key);
  }

  /**
   * Each isolate's memory after full garbage collections: its heap, and its array buffers
   * (isolated-vm's `externally_allocated_size`). V8's `gc()`, two calls as the worker host
   * takes two snapshots, runs in a context of the isolate's own that no stub can reach
   * ({@link collector}); it collects the whole isolate.
   */
  async measure(): Promise<SandboxMemory[]> {
    return [...this.#slots.values()]
      .filter((slot) => !slot.ended && !slot.isolate.isDisposed)
      .map((slot) => {
        slot.collector ??= collector(slot.isolate);
        slot.collector.evalSync('gc(); gc()');
        const stats = slot.isolate.getHeapStatisticsSync();
        return {
          sandbox: slot.link.label,
          packages: slot.sandbox.packages,
          heap: stats.used_heap_size,
          external: stats.externally_allocated_size,
        };
      });
  }

  async terminate(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#slots.values()].map((slot) => slot.sandbox.stopAll()));
    clearInterval(this.#sampler);
    const closed = new ProtoflyError('PF_ERR_CLOSED', 'the sandbox host was terminated');
    for (const slot of [...this.#slots.values()]) this.#end(slot, closed);
  }

  /**
   * Ends the isolates whose heap is over their package's `memoryMb` plus the runtime's share.
   * isolated-vm's own limit is set {@link HEADROOM_MB} higher, as the worker host sets V8's:
   * at that limit isolated-vm disposes an isolate only if the allocation under way fits what
   * V8 has left, and one that does not (a Map's table doubling) aborts the whole process. A
   * stub runs only inside a call, so reading between calls (the host's thread is free then)
   * sees all it kept; within one call, time bounds it, and the headroom is V8's largest object.
   */
  #sample(): void {
    for (const slot of this.#slots.values()) {
      if (slot.ended) continue;
      const heap = this.#heapOver(slot);
      if (heap === undefined) continue;
      this.#end(slot, this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb: slot.memoryMb, heap }));
    }
  }

  /** The isolate's heap, in bytes, when it is over its package's `memoryMb` plus the runtime's share. */
  #heapOver(slot: Slot): number | undefined {
    if (slot.isolate.isDisposed) return undefined;
    const heap = slot.isolate.getHeapStatisticsSync().used_heap_size;
    return heap > (slot.memoryMb + RUNTIME_HEAP_MB) * MIB ? heap : undefined;
  }

  /**
   * The isolate for a package: its domain's (or its own, after a crash it shared), with the
   * memory and time limits its descriptor asks for, within the host's.
   *
   * @throws ProtoflyError `PF_ERR_POLICY` when the descriptor asks for more than the host's.
   */
  #place(descriptor: StubDescriptor): Slot {
    const unit = `${descriptor.domain}/${descriptor.name}`;
    const memoryMb = withinCeiling(descriptor, 'memoryMb', this.#memoryMb);
    const watchdogMs = withinCeiling(descriptor, 'watchdogMs', this.#watchdogMs);
    const share = this.#alone.has(unit) ? `alone ${unit}` : `share ${this.#shareKey(descriptor)}`;
    const group = `${share} ${memoryMb} ${watchdogMs}`;
    const slot = this.#slots.get(group) ?? this.#make(group, memoryMb, watchdogMs);
    slot.units.add(unit);
    return slot;
  }

  #make(group: string, memoryMb: number, watchdogMs: number): Slot {
    this.#made += 1;
    const label = `isolate ${this.#made}`;
    const ivm = this.#ivm;
    const isolate = new ivm.Isolate({
      memoryLimit: memoryMb + RUNTIME_HEAP_MB + HEADROOM_MB,
      onCatastrophicError: (message) => this.#log.error({ sandbox: label }, `isolated-vm: ${message}`),
    });
    const context = isolate.createContextSync();
    const timers = new Map<number, ReturnType<typeof setTimeout>>();
    // Filled in below, once the isolate is up; its callbacks run only after that.
    let slot: Slot | undefined;
    const callbacks = [
      (json: string) => {
        if (!slot || slot.ended) return;
        if (slot.inbox.push(json) === 1) queueMicrotask(() => this.#drain(slot as Slot));
      },
      (id: number, ms: number, repeat: boolean) => {
        if (!slot || slot.ended) return;
        const due = () => {
          if (!repeat) timers.delete(id);
          if (slot) this.#call(slot, slot.fire, [id]);
        };
        // A sandbox's timers never keep the process alive (as a worker's do not).
        const timer = repeat ? setInterval(due, ms) : setTimeout(due, ms);
        timer.unref();
        timers.set(id, timer);
      },
      (id: number) => {
        clearTimeout(timers.get(id));
        timers.delete(id);
      },
      () => performance.now(),
      (n: number) => randomBytes(Math.min(n, 65_536)).toString('latin1'),
      () => randomUUID(),
      (input: string) => {
        const url = URL.parse(input);
        if (!url) return '';
        const { href, protocol, username, password, hostname, port, pathname, search, hash } = url;
        return JSON.stringify({ href, protocol, username, password, hostname, port, pathname, search, hash });
      },
      () => isolate.getHeapStatisticsSync().externally_allocated_size,
      (id: number, op: string, args: string, data: string, key: string) => {
        void runSubtle(op, args, data, key).then(
          (bytes) => slot && this.#call(slot, slot.settle, [id, '', bytes]),
          (err: Error) => slot && this.#call(slot, slot.settle, [id, String(err?.message ?? err), '']),
        );
      },
    ].map((fn) => new ivm.Callback(fn as (...args: never[]) => unknown));
    context.evalClosureSync(
      'globalThis.__protoflyHost = { post: $0, timer: $1, clear: $2, now: $3, random: $4, uuid: $5, url: $6, buffers: $7, subtle: $8, arrayBufferBytes: $9 };',
      [...callbacks, memoryMb * MIB],
    );
    const compiled = isolate.compileScriptSync(this.#source, {
      filename: 'sandbox-isolate.js',
      ...(this.#cachedData ? { cachedData: this.#cachedData } : { produceCachedData: true }),
    });
    this.#cachedData ??= compiled.cachedData;
    compiled.runSync(context);
    const receive = context.evalSync('__protoflyIsolate.receive', { reference: true });
    const fire = context.evalSync('__protoflyIsolate.fire', { reference: true });
    const settle = context.evalSync('__protoflyIsolate.settle', { reference: true });
    const post = (frame: HostFrame) => {
      if (!slot || slot.ended) return;
      if (slot.outbox.push(frame) === 1) queueMicrotask(() => this.#flush(slot as Slot));
    };
    const link = new WorkerLink(post, { label, limits: this.#limits, log: this.#log });
    const sandbox = new Sandbox(link, {
      runtime: 'node',
      limits: this.#limits,
      policy: this.#policy,
      log: this.#log,
      openSocket: this.#openSocket,
    });
    slot = {
      isolate,
      receive,
      fire,
      settle,
      link,
      sandbox,
      group,
      memoryMb,
      watchdogMs,
      timers,
      units: new Set(),
      inbox: [],
      outbox: [],
    };
    this.#slots.set(group, slot);
    // The `init` the link posted as it was made went nowhere: the slot did not exist yet.
    post({ t: 'init', limits: this.#limits });
    return slot;
  }

  /**
   * Calls into an isolate, within its time budget. The supervisor catches every stub
   * exception, so a call throws for a limit (time, memory), which ends the isolate, or for a
   * promise rejection nobody handled during the call (isolated-vm throws its reason once the
   * call's microtasks ran, with the call's work done), which is a stub's and is logged, as the
   * worker host logs the ones its workers count.
   */
  #call(slot: Slot, fn: IsolateReference, args: readonly (string | number)[]): void {
    if (slot.ended) return;
    // Frames posted before a timer or an answer go in before it.
    if (fn !== slot.receive && slot.outbox.length > 0) this.#flush(slot);
    const start = performance.now();
    try {
      fn.applySync(undefined, args, { timeout: slot.watchdogMs });
      // A long call may have taken memory the sampler, which reads between turns, has not seen:
      // read it now, before what the stub said meanwhile is handed on. A stub whose own code
      // failed for want of memory (an array past V8's largest) is ended for memory, as the
      // worker host, which reads a heap while it runs, would have said.
      if (performance.now() - start < LONG_CALL_MS) return;
      const heap = this.#heapOver(slot);
      if (heap !== undefined)
        this.#endAfterCall(slot, this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb: slot.memoryMb, heap }));
    } catch (err) {
      const message = (err as Error).message;
      const memory = slot.isolate.isDisposed || /memory limit/i.test(message);
      if (!memory && !/^Script execution timed out/.test(message)) {
        this.#log.warn(
          { sandbox: slot.link.label, rejection: message },
          `stubs in ${slot.link.label} left 1 promise rejection(s) unhandled`,
        );
        return;
      }
      const ms = performance.now() - start;
      // A loop that never yields has its heap read once time stopped it (isolated-vm's limit,
      // far above, bounded it meanwhile): over its bound, memory is what it is ended for, as
      // the worker host, which reads a worker's heap while it runs, would have said.
      const heap = memory ? undefined : this.#heapOver(slot);
      const error =
        memory || heap !== undefined
          ? this.#error(slot, { code: 'PF_ERR_MEMORY', memoryMb: slot.memoryMb, ...(heap && { heap }) })
          : this.#error(slot, { code: 'PF_ERR_WATCHDOG', ms, limitMs: slot.watchdogMs });
      this.#endAfterCall(slot, error);
    }
  }

  /** Ends `slot` after the caller's turn (the host code that called in is mid-way through a frame); nothing it posted meanwhile is handed on. */
  #endAfterCall(slot: Slot, error: ProtoflyError): void {
    this.#closeSlot(slot, error);
    queueMicrotask(() => this.#end(slot, error));
  }

  /** Hands the isolate the frames posted for it this turn, as one JSON array in one call. */
  #flush(slot: Slot): void {
    const frames = slot.outbox;
    if (frames.length === 0) return;
    slot.outbox = [];
    this.#call(slot, slot.receive, [JSON.stringify(frames)]);
  }

  /** Hands the frames an isolate posted to its link, batch by batch. */
  #drain(slot: Slot): void {
    const batches = slot.inbox;
    slot.inbox = [];
    for (const json of batches) {
      for (const frame of JSON.parse(json) as WorkerFrame[]) {
        if (slot.ended) return;
        if (frame.t === 'memory') {
          const ending = {
            code: 'PF_ERR_MEMORY',
            memoryMb: slot.memoryMb,
            held: frame.held,
            wanted: frame.bytes,
          } as const;
          return this.#end(slot, this.#error(slot, ending));
        }
        slot.link.receive(frame);
      }
    }
  }

  /** Nothing more goes into the isolate, and none of its timers fires. */
  #closeSlot(slot: Slot, err: ProtoflyError): void {
    slot.ended ??= err;
    for (const timer of slot.timers.values()) clearTimeout(timer);
    slot.timers.clear();
  }

  /**
   * Ends an isolate: everything on it fails with `err`. When it crashed (any code but
   * `PF_ERR_CLOSED`), the packages that shared it get an isolate each from now on.
   */
  #end(slot: Slot, err: ProtoflyError): void {
    if (this.#slots.get(slot.group) === slot) this.#slots.delete(slot.group);
    this.#closeSlot(slot, err);
    if (slot.link.dead) return;
    slot.link.die(err);
    const crashed = err.code !== 'PF_ERR_CLOSED';
    if (crashed && slot.units.size > 1) for (const unit of slot.units) this.#alone.add(unit);
    if (crashed) this.#log.warn({ sandbox: slot.link.label, code: err.code }, err.message);
    else this.#log.debug({ sandbox: slot.link.label }, err.message);
    if (!slot.isolate.isDisposed) slot.isolate.dispose();
  }

  #error(slot: Slot, ending: Ending): ProtoflyError {
    return endedError(slot.link.label, [...slot.units], ending);
  }
}

/**
 * A new context of `isolate` with V8's `gc()` on its global. V8 gives `gc()` only to contexts
 * made while `--expose-gc` is set, and the flag is the process's: it is set for the making of
 * this one context, on this thread, and unset after unless the process was started with it.
 * No stub code runs in this context: it is the host's only.
 */
function collector(isolate: Isolate): IsolateContext {
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  setFlagsFromString('--expose-gc');
  try {
    return isolate.createContextSync();
  } finally {
    if (!exposed) setFlagsFromString('--no-expose-gc');
  }
}
