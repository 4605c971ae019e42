import { ProtoflyError } from '../core/errors.js';
import type { StubDescriptor } from '../core/generated/types.js';
import { descriptorKey, type StubPackage } from '../core/plugin.js';
import { assertEndpoints, type ResolvedPolicy, withinCeiling } from '../runtime/policy.js';
import { costOf, LOG_LEVELS, type PackageLimits, type StubLimits } from './channel.js';
import { compileEndpoints, type EndpointMatcher } from './endpoint.js';
import type { ConversationContext, SandboxLogger, StubHandle } from './host.js';
import { HostInstance, type InstanceOwner } from './instance.js';
import type { Link, LinkReceiver, StubFrame } from './link.js';
import { HostSession } from './session.js';
import { SocketBridge } from './socket-bridge.js';
import type { SocketFactory } from './sockets.js';
import { warmUp } from './warm-up.js';

export interface SandboxOptions {
  /** What the sandbox is, for the descriptor's `constraints.runtimes`. */
  readonly runtime: 'node' | 'browser';
  /** The host's limits: ceilings of what a package's descriptor may ask for. */
  readonly limits: StubLimits;
  /** Checked again here: a package's endpoints when it loads, each address its stub connects to. */
  readonly policy: ResolvedPolicy;
  readonly log: SandboxLogger;
  readonly openSocket: SocketFactory;
}

/** A package version evaluated in a sandbox. */
export interface LoadedPackage {
  readonly id: number;
  /** What the host named it by in {@link Sandbox.load}. */
  readonly key: string;
  readonly domain: string;
  readonly name: string;
  /** `domain/name@version`. */
  readonly label: string;
  readonly endpoints: EndpointMatcher;
  /** The limits selected for it: what its descriptor asks, within the host's. */
  readonly limits: PackageLimits;
}

/** A package evaluated (or being evaluated) here, and who needs it. */
interface PackageEntry {
  readonly key: string;
  readonly id: number;
  readonly label: string;
  readonly loaded: Promise<LoadedPackage>;
  /** Loads not yet activated, plus instances running it. */
  uses: number;
  /** The host unloads it: dropped once `uses` is 0. */
  unload: boolean;
}

/**
 * One sandbox (a worker, or the inline host's thread) as the host sees it: the packages
 * evaluated in it, the stub instances running there and their sessions; every frame about
 * them is checked here (message schema, `from`, status transitions, endpoints). Frames travel,
 * and the sandbox starts and ends, through its {@link Link}; the stubs' sockets are its
 * {@link SocketBridge}'s. It knows nothing of how the sandbox is made or killed: the Node
 * worker host, the inline host and a browser host each give it their own link.
 */
export class Sandbox implements LinkReceiver {
  /** Resolves once the link is up and the sandbox warm (see warm-up.ts). */
  readonly ready: Promise<void>;
  readonly #link: Link;
  readonly #options: SandboxOptions;
  readonly #bridge: SocketBridge;
  readonly #packages = new Map<string, PackageEntry>();
  /** The package entry of each instance, released with it. */
  readonly #entryOf = new Map<number, PackageEntry>();
  readonly #instances = new Map<number, HostInstance>();
  readonly #sessions = new Map<string, HostSession>();
  readonly #sessionsById = new Map<number, HostSession>();
  /** What every instance here reaches the sandbox through. */
  readonly #owner: InstanceOwner;

  constructor(link: Link, options: SandboxOptions) {
    this.#link = link;
    this.#options = options;
    this.#bridge = new SocketBridge(link, {
      policy: options.policy,
      maxFrameBytes: options.limits.maxFrameBytes,
      log: options.log,
      openSocket: options.openSocket,
    });
    this.#owner = {
      post: (frame) => link.post(frame),
      release: (instance) => this.#release(instance),
      log: options.log,
    };
    link.attach(this);
    // Ready once warm: the first package then finds the worker's code paths compiled.
    this.ready = link.ready
      .then(() => warmUp(this))
      .then(() => {
        if (link.dead) throw link.dead;
      });
    // Whoever awaits `ready` sees the failure; nobody awaiting is not an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Conversations (stub instances) running here. */
  get conversations(): number {
    return this.#instances.size;
  }

  /** The packages evaluated here (or being evaluated), as `domain/name@version`. */
  get packages(): string[] {
    return [...this.#packages.values()].map((entry) => entry.label);
  }

  /**
   * Evaluates a package version here, once: later calls with the same `key` share the result.
   *
   * @throws ProtoflyError `PF_ERR_SANDBOX` when it cannot be evaluated, or is not made for
   *   this sandbox's `runtime`; `PF_ERR_POLICY` when its endpoints or limits are outside the policy.
   */
  load(key: string, descriptor: StubDescriptor, script: string): Promise<LoadedPackage> {
    const known = this.#packages.get(key);
    if (known) {
      // Needed again: whoever unloaded it, this caller's activation keeps it.
      known.uses++;
      known.unload = false;
      return known.loaded;
    }
    const dead = this.#link.dead;
    if (dead) return Promise.reject(dead);
    const { domain, name, version, constraints } = descriptor;
    const label = `${domain}/${name}@${version}`;
    const runtime = this.#options.runtime;
    if (!constraints.runtimes.includes(runtime)) {
      return Promise.reject(
        new ProtoflyError(
          'PF_ERR_SANDBOX',
          `package ${label} runs on ${constraints.runtimes.join(', ')}, not on ${runtime}`,
          { package: label, runtimes: constraints.runtimes },
        ),
      );
    }
    let limits: PackageLimits;
    try {
      // The loader checked these against its policy; this host holds its own.
      assertEndpoints(descriptor, this.#options.policy);
      limits = packageLimits(descriptor, this.#options.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.#link.nextId();
    const endpoints = compileEndpoints(constraints.endpoints);
    const pkg: LoadedPackage = { id, key, domain, name, label, endpoints, limits };
    const loaded = this.#link
      .request({ t: 'load', pkg: id, name: label, script, endpoints: constraints.endpoints, limits })
      .then(({ error }) => {
        if (error === undefined) return pkg;
        throw new ProtoflyError('PF_ERR_SANDBOX', `package ${label} could not be evaluated: ${error}`, {
          package: label,
        });
      });
    const entry: PackageEntry = { key, id, label, loaded, uses: 1, unload: false };
    // A package that failed to evaluate is not cached: a later try evaluates it again.
    loaded.catch(() => {
      if (this.#packages.get(key) === entry) this.#packages.delete(key);
    });
    this.#packages.set(key, entry);
    return loaded;
  }

  /** Evaluates `pkg` here ({@link load}, once per version) and activates it for one conversation. */
  async instantiate(pkg: StubPackage, script: string, ctx: ConversationContext): Promise<StubHandle> {
    return this.activate(await this.load(descriptorKey(pkg.descriptor), pkg.descriptor, script), ctx);
  }

  /**
   * Evaluates `pkg` ahead of its first activation (SandboxHost.prepare): as {@link load},
   * without keeping a use of it, so that an {@link unload} drops it.
   */
  async prepare(pkg: StubPackage, script: string): Promise<void> {
    const key = descriptorKey(pkg.descriptor);
    const loaded = this.load(key, pkg.descriptor, script);
    const entry = this.#packages.get(key);
    await loaded;
    // The use `load` counted for an activation is given back (one that failed is not kept).
    if (!entry) return;
    entry.uses--;
    this.#dropIfUnused(entry);
  }

  /**
   * Activates a package for one conversation, right after {@link load} returned it (the load
   * keeps it evaluated until then); resolves once `activate` returned a stub.
   */
  activate(pkg: LoadedPackage, ctx: ConversationContext): Promise<StubHandle> {
    const dead = this.#link.dead;
    if (dead) return Promise.reject(dead);
    const cid = this.#link.nextId();
    const entry = this.#packages.get(pkg.key);
    if (entry?.id === pkg.id) this.#entryOf.set(cid, entry);
    const { domain } = pkg;
    // Per evaluated package: another version (or the same bytes under another descriptor) is
    // other code, and its instances must not find this one's objects in their session.
    const session = this.#session(`${pkg.id}\n${ctx.identity.address}`);
    const instance = new HostInstance(
      cid,
      ctx.id ?? `c${cid}`,
      pkg.label,
      session,
      pkg.endpoints,
      pkg.limits,
      ctx,
      this.#owner,
    );
    this.#instances.set(cid, instance);
    const identity =
      ctx.identity.token === undefined
        ? { address: ctx.identity.address }
        : { address: ctx.identity.address, token: ctx.identity.token };
    try {
      this.#link.post({
        t: 'activate',
        cid,
        pkg: pkg.id,
        session: session.id,
        domain,
        identity,
        ...peerOf(ctx.from),
        config: ctx.config,
        ...(ctx.snapshot === undefined ? {} : { snapshot: JSON.stringify(ctx.snapshot) }),
      });
    } catch (err) {
      instance.fail(
        new ProtoflyError(
          'PF_ERR_CONFIG',
          `conversation ${instance.id}: its config cannot cross to the sandbox (${(err as Error).message})`,
          { conversation: instance.id },
        ),
      );
    }
    return instance.activated;
  }

  /**
   * The host needs the package it loaded as `key` no more: its evaluation is dropped once none
   * of its instances runs (now, or when the last one ends), so the worker can collect it.
   */
  unload(key: string): void {
    const entry = this.#packages.get(key);
    if (!entry) return;
    entry.unload = true;
    this.#dropIfUnused(entry);
  }

  /** Stops every instance here; resolves when all are stopped (or the sandbox died). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#instances.values()].map((c) => c.stop()));
  }

  /** The link died: every instance here fails with `err`, every socket closes. */
  closed(err: ProtoflyError): void {
    for (const instance of [...this.#instances.values()]) instance.fail(err);
    this.#bridge.endAll(1001, 'sandbox worker ended');
    this.#sessions.clear();
    this.#sessionsById.clear();
  }

  /** Handles one frame about the stubs. */
  receive(frame: StubFrame): void {
    switch (frame.t) {
      case 'send':
        this.#instances.get(frame.cid)?.onSend(frame.json);
        return this.#consume(frame.session, costOf(frame));
      case 'ack': {
        const session = this.#sessionsById.get(frame.session);
        if (!session) return;
        session.out.release(frame.bytes);
        return this.#bridge.flow(session);
      }
      case 'socketSend':
        this.#bridge.send(frame.session, frame.sock, String(frame.data));
        return this.#consume(frame.session, costOf(frame));
      case 'status':
        this.#instances.get(frame.cid)?.onStatus(frame.status, frame.detail, frame.code);
        return this.#consume(frame.session, costOf(frame));
      case 'log':
        this.#log(frame);
        return this.#consume(frame.session, costOf(frame));
      case 'connect':
        this.#connect(frame);
        return this.#consume(frame.session, costOf(frame));
      case 'socketClose':
        this.#bridge.close(frame.session, frame.sock, frame.code, frame.reason);
        return this.#consume(frame.session, costOf(frame));
      case 'activated':
        return this.#instances.get(frame.cid)?.onActivated();
      case 'failed': {
        const instance = this.#instances.get(frame.cid);
        instance?.fail(
          new ProtoflyError(
            'PF_ERR_SANDBOX',
            `stub ${instance.stub} of conversation ${instance.id} threw in ${frame.where}: ${frame.error}`,
            { conversation: instance.id, stub: instance.stub, where: frame.where },
          ),
        );
        return;
      }
      case 'stopped':
        return this.#instances.get(frame.cid)?.onStopped(frame.error);
      case 'snapshot':
        return this.#instances.get(frame.cid)?.onSnapshot(frame.json, frame.error);
      case 'flood': {
        const instance = this.#instances.get(frame.cid);
        instance?.refused(
          new ProtoflyError(
            'PF_ERR_FLOOD',
            `stub ${instance.stub} of conversation ${instance.id} went over its channel window or its message rate; its ${frame.what} and what follows are refused until it is back under`,
            { conversation: instance.id, stub: instance.stub, what: frame.what },
          ),
        );
        return;
      }
    }
  }

  // ---- helpers ----

  #session(key: string): HostSession {
    let session = this.#sessions.get(key);
    if (!session) {
      session = new HostSession(this.#link.nextId(), key, this.#options.limits.windowBytes);
      this.#sessions.set(key, session);
      this.#sessionsById.set(session.id, session);
    }
    session.refs++;
    return session;
  }

  #dropIfUnused(entry: PackageEntry): void {
    if (!entry.unload || entry.uses > 0 || this.#packages.get(entry.key) !== entry) return;
    this.#packages.delete(entry.key);
    this.#link.post({ t: 'unload', pkg: entry.id });
  }

  #release(instance: HostInstance): void {
    this.#instances.delete(instance.cid);
    const entry = this.#entryOf.get(instance.cid);
    if (entry) {
      this.#entryOf.delete(instance.cid);
      entry.uses--;
      this.#dropIfUnused(entry);
    }
    const session = instance.session;
    session.refs--;
    if (session.refs > 0 || this.#sessions.get(session.key) !== session) return;
    this.#sessions.delete(session.key);
    this.#sessionsById.delete(session.id);
    this.#bridge.end(session.id, 1000, 'session ended');
    this.#link.post({ t: 'endSession', session: session.id });
  }

  /** Acknowledges processed frames of a session, once per half window. */
  #consume(sessionId: number, cost: number): void {
    const session = this.#sessionsById.get(sessionId);
    if (!session) return;
    const bytes = session.in.consume(cost);
    if (bytes > 0) this.#link.post({ t: 'ack', session: sessionId, bytes });
  }

  #log(frame: Extract<StubFrame, { t: 'log' }>): void {
    const instance = this.#instances.get(frame.cid);
    if (!instance || instance.ended || !LOG_LEVELS.includes(frame.level)) return;
    const fields: Record<string, unknown> = { stub: instance.stub, conversation: instance.id };
    if (frame.data !== undefined) fields.data = frame.data;
    if (frame.dropped !== undefined) fields.dropped = frame.dropped;
    this.#options.log[frame.level](fields, String(frame.line));
  }

  #connect(frame: Extract<StubFrame, { t: 'connect' }>): void {
    const instance = this.#instances.get(frame.cid);
    const session = this.#sessionsById.get(frame.session);
    if (!instance || instance.ended || !session || instance.session !== session) return;
    this.#bridge.connect(instance, frame);
  }
}

/** The limits a package runs under: what its descriptor asks for, at most the host's. */
function packageLimits(descriptor: StubDescriptor, limits: StubLimits): PackageLimits {
  return {
    maxSocketsPerSession: withinCeiling(descriptor, 'maxSocketsPerSession', limits.maxSocketsPerSession),
    maxTimers: withinCeiling(descriptor, 'maxTimers', limits.maxTimers),
    messagesPerSecond: withinCeiling(descriptor, 'messagesPerSecond', limits.messagesPerSecond),
  };
}

/**
 * The conversation's peer, as the activate frame carries it: the one exact address its stub
 * may send from. None for the inbox, whose senders are prefixes.
 */
function peerOf(from: readonly string[]): { peer?: string } {
  const only = from.length === 1 ? from[0]! : undefined;
  return only === undefined || only.endsWith('/') ? {} : { peer: only };
}
