import { ProtoflyError } from '../../core/errors.js';
import type { Stub } from '../../core/stub.js';
import {
  costOf,
  type HostFrame,
  type PackageLimits,
  type SocketEvent,
  type StubLimits,
  type WorkerFrame,
} from '../channel.js';
import { compileEndpoints } from '../endpoint.js';
import { createContext } from './context.js';
import { describeError } from './describe.js';
import { type InstanceSupervisor, WorkerInstance, type WorkerPackage } from './instance.js';
import { WorkerSession, type WorkerSocket } from './session.js';

/** What the supervisor needs from where it runs (a locked-down worker, or the inline host's thread). */
export interface SupervisorOptions {
  /** Posts a frame to the host. */
  post(frame: WorkerFrame): void;
  /**
   * Evaluates a package script (see the `load` frame) where the package gets nothing but what
   * the sandbox allows, and returns its completion value.
   */
  evaluate(script: string, name: string): unknown;
  /** Makes a value tamper-proof before a stub can see it. */
  harden<T>(value: T): T;
  /**
   * Bytes of JS heap this thread uses, and bytes it holds outside its heap (array buffers: the
   * heap limit does not cover them).
   */
  memory(): { readonly heap: number; readonly external: number };
  /** Full garbage collections, where the sandbox can run them itself (a child process's `gc`). */
  collect?(): void;
}

/**
 * The worker side of the channel, beneath the stubs: evaluates packages, runs one
 * {@link WorkerInstance} per conversation, keeps sessions and their credit, and answers the
 * heartbeat. It runs beneath
 * the stubs (in the worker's start compartment), so nothing a stub does reaches it except
 * through the hardened `ctx` it was given.
 */
export class Supervisor implements InstanceSupervisor {
  #limits: StubLimits | undefined;
  readonly #packages = new Map<number, WorkerPackage>();
  readonly #instances = new Map<number, WorkerInstance>();
  readonly #sessions = new Map<number, WorkerSession>();
  readonly #sockets = new Map<number, WorkerSocket>();
  readonly #refuseRequire: (name: unknown) => never;
  #ids = 0;
  #rejections = 0;

  constructor(readonly options: SupervisorOptions) {
    this.#refuseRequire = options.harden((name: unknown) => {
      throw new ProtoflyError(
        'PF_ERR_SANDBOX',
        `a stub imports nothing at run time, yet it required '${String(name)}'`,
        {},
      );
    });
  }

  get limits(): StubLimits {
    if (!this.#limits) throw new ProtoflyError('PF_ERR_SANDBOX', 'the sandbox worker got no init frame');
    return this.#limits;
  }

  /** Handles one frame from the host. */
  receive(frame: HostFrame): void {
    switch (frame.t) {
      case 'deliver':
        return this.#deliver(frame.cid, frame.session, frame.json, costOf(frame));
      case 'socket':
        this.#ack(this.#sessions.get(frame.session), costOf(frame));
        return this.#socketEvent(frame.sock, frame.event);
      case 'ack': {
        const session = this.#sessions.get(frame.session);
        if (!session) return;
        session.out.release(frame.bytes);
        session.flood = undefined;
        return;
      }
      case 'ping': {
        if (frame.collect) this.options.collect?.();
        const { heap, external } = this.options.memory();
        this.options.post({ t: 'pong', id: frame.id, heap, external, rejections: this.#rejections });
        this.#rejections = 0;
        return;
      }
      case 'init':
        this.#limits = frame.limits;
        return this.options.post({ t: 'ready' });
      case 'load':
        return this.#load(frame);
      case 'activate':
        return this.#activate(frame);
      case 'stop': {
        const instance = this.#instances.get(frame.cid);
        if (instance) instance.stop();
        else this.options.post({ t: 'stopped', cid: frame.cid });
        return;
      }
      case 'snapshot':
        return this.#snapshot(frame.cid);
      case 'unload':
        // The host unloads a package none of whose instances runs: dropping its `activate`
        // leaves nothing reachable in its compartment.
        this.#packages.delete(frame.pkg);
        return;
      case 'endSession': {
        const session = this.#sessions.get(frame.session);
        if (!session) return;
        for (const sock of session.sockets.keys()) this.#sockets.delete(sock);
        session.end();
        this.#sessions.delete(frame.session);
        return;
      }
    }
  }

  /** A promise rejection nobody handled: a stub's, since the supervisor handles its own. Counted for the host. */
  rejection(): void {
    this.#rejections++;
  }

  post(frame: WorkerFrame): void {
    this.options.post(frame);
  }

  harden<T>(value: T): T {
    return this.options.harden(value);
  }

  nextId(): number {
    this.#ids += 1;
    return this.#ids;
  }

  addSocket(socket: WorkerSocket): void {
    this.#sockets.set(socket.sock, socket);
  }

  ended(instance: WorkerInstance): void {
    this.#instances.delete(instance.cid);
  }

  #load(frame: Extract<HostFrame, { t: 'load' }>): void {
    const { pkg, name, script, endpoints, limits } = frame;
    const error = this.#evaluate(pkg, name, script, endpoints, limits);
    this.options.post(error === undefined ? { t: 'loaded', pkg } : { t: 'loaded', pkg, error });
  }

  /** Evaluates a package and keeps its `activate`; says why not when it cannot. */
  #evaluate(
    pkg: number,
    name: string,
    script: string,
    endpoints: readonly string[],
    limits: PackageLimits,
  ): string | undefined {
    try {
      const factory = this.options.evaluate(script, name);
      if (typeof factory !== 'function') return 'the package script is not a function';
      const module: { exports: { default?: unknown } } = { exports: {} };
      factory(module, module.exports, this.#refuseRequire);
      const activate = module.exports?.default;
      if (typeof activate !== 'function')
        return `its default export is ${typeof activate}, not an activate function`;
      this.#packages.set(pkg, {
        name,
        activate: activate as WorkerPackage['activate'],
        endpoints: compileEndpoints(endpoints),
        limits,
      });
      return undefined;
    } catch (err) {
      return describeError(err);
    }
  }

  #activate(frame: Extract<HostFrame, { t: 'activate' }>): void {
    const { cid } = frame;
    const pkg = this.#packages.get(frame.pkg);
    if (!pkg) {
      return this.options.post({
        t: 'failed',
        cid,
        where: 'activate',
        error: `package ${frame.pkg} is not loaded`,
      });
    }
    let session = this.#sessions.get(frame.session);
    if (!session) {
      session = new WorkerSession(frame.session, this.limits.windowBytes, this.options.harden);
      this.#sessions.set(frame.session, session);
    }
    const instance = new WorkerInstance(cid, pkg, session, this, frame.peer);
    this.#instances.set(cid, instance);

    // Settles once, with a stub or with why there is none.
    let settled = false;
    const settle = (stub: unknown, failure?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!instance.active) return;
      const why = failure ?? stubShapeError(stub);
      if (why !== undefined) return instance.fail('activate', why);
      instance.stub = stub as Stub;
      this.options.post({ t: 'activated', cid });
    };
    const ms = this.limits.activateTimeoutMs;
    const timer = setTimeout(() => settle(undefined, `activate did not settle within ${ms} ms`), ms);
    try {
      const ctx = createContext(
        instance,
        frame.domain,
        frame.identity,
        frame.peer,
        frame.config,
        frame.snapshot === undefined ? undefined : JSON.parse(frame.snapshot),
        this.options.harden,
      );
      Promise.resolve(pkg.activate(ctx)).then(
        (stub) => settle(stub),
        (err: unknown) => settle(undefined, describeError(err)),
      );
    } catch (err) {
      settle(undefined, describeError(err));
    }
  }

  #deliver(cid: number, sessionId: number, json: string, cost: number): void {
    const instance = this.#instances.get(cid);
    const stub = instance?.stub;
    if (stub && instance.active) instance.invoke('postMessage', () => stub.postMessage(JSON.parse(json)));
    this.#ack(this.#sessions.get(sessionId), cost);
  }

  #snapshot(cid: number): void {
    const instance = this.#instances.get(cid);
    const stub = instance?.stub;
    if (!stub || typeof stub.snapshot !== 'function') return this.options.post({ t: 'snapshot', cid });
    instance.invoke('snapshot', () => {
      const json = JSON.stringify(stub.snapshot?.());
      const max = this.limits.maxFrameBytes;
      if (json !== undefined && json.length > max) {
        // Refused, not failed: the instance keeps its conversation (a live swap then rolls back).
        return this.options.post({
          t: 'snapshot',
          cid,
          error: `its snapshot of ${json.length} characters is over ${max}`,
        });
      }
      this.options.post(json === undefined ? { t: 'snapshot', cid } : { t: 'snapshot', cid, json });
    });
  }

  #socketEvent(sock: number, event: SocketEvent): void {
    const socket = this.#sockets.get(sock);
    if (!socket) return;
    const { delegate, opener } = socket;
    if (event.type === 'open') socket.state = 'open';
    if (event.type === 'close') {
      socket.state = 'closed';
      this.#sockets.delete(sock);
      socket.session.sockets.delete(sock);
    }
    // Events reach the delegate for as long as the session lives, even after its opener
    // ended: the socket may serve the session's other instances.
    opener.invoke('socket', () => {
      if (event.type === 'message') delegate.onMessage(event.data);
      else if (event.type === 'open') delegate.onOpen?.(event.protocol);
      else if (event.type === 'close') delegate.onClose?.(event.code, event.reason);
      else delegate.onError?.(event.message);
    });
  }

  #ack(session: WorkerSession | undefined, cost: number): void {
    if (!session) return;
    const bytes = session.in.consume(cost);
    if (bytes > 0) this.options.post({ t: 'ack', session: session.id, bytes });
  }
}

/** Why `activate`'s result is not a stub, or undefined when it is one. */
function stubShapeError(stub: unknown): string | undefined {
  try {
    const s = stub as Partial<Stub> | null;
    if (
      s !== null &&
      typeof s === 'object' &&
      typeof s.postMessage === 'function' &&
      typeof s.stop === 'function'
    ) {
      return undefined;
    }
    return 'activate returned no stub (an object with postMessage and stop)';
  } catch (err) {
    return describeError(err);
  }
}
