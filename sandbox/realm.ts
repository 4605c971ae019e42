import { ProtoflyError } from '../core/errors.js';
import type { StubDescriptor } from '../core/generated/types.js';
import { assertAddress, assertEndpoints, type ResolvedPolicy, withinCeiling } from '../core/policy.js';
import {
  costOf,
  type HostFrame,
  LOG_LEVELS,
  type PackageLimits,
  type SocketEvent,
  type StubLimits,
  type WorkerFrame,
} from './channel.js';
import { Conversation, type ConversationLink } from './conversation.js';
import { compileEndpoints, type EndpointMatcher } from './endpoint.js';
import type { ConversationContext, SandboxLogger, StubHandle } from './host.js';
import { HostSession } from './session.js';
import type { SocketFactory } from './sockets.js';
import { warmUp } from './warm-up.js';

export interface RealmOptions {
  /** Names the realm in logs ("worker 3", "inline"). */
  readonly label: string;
  /** What the realm is, for the descriptor's `constraints.runtimes`. */
  readonly runtime: 'node' | 'browser';
  /** The host's limits: ceilings of what a package's descriptor may ask for. */
  readonly limits: StubLimits;
  /** Checked again here: a package's endpoints when it loads, each address its stub connects to. */
  readonly policy: ResolvedPolicy;
  readonly log: SandboxLogger;
  readonly openSocket: SocketFactory;
}

/** A package version evaluated in a realm. */
export interface LoadedPackage {
  readonly id: number;
  /** What the host named it by in {@link Realm.load}. */
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
  /** Loads not yet activated, plus conversations running it. */
  uses: number;
  /** The host unloads it: dropped once `uses` is 0. */
  unload: boolean;
}

/**
 * The host side of one worker (a realm holding compartments): loads packages into it, runs
 * conversations on it, holds their sessions and sockets, and turns every frame the worker
 * posts into a checked action. It knows nothing of how the worker is made or killed: the
 * Node worker host, the inline host and a browser host each drive it with their own port.
 */
export class Realm {
  readonly ready: Promise<void>;
  #markReady!: () => void;
  #failReady!: (err: ProtoflyError) => void;
  #dead: ProtoflyError | undefined;
  #started = false;
  /** Bytes the worker held outside its JS heap at the last heartbeat. */
  external = 0;
  /** Bytes of JS heap the worker used at the last heartbeat. */
  heap = 0;
  /** Heartbeats asked for and answered: the worker answers each, in order. */
  #pings = 0;
  #pongs = 0;
  /** Who waits for the answer to which heartbeat. */
  readonly #awaiting: { readonly ping: number; readonly answered: () => void }[] = [];
  readonly #post: (frame: HostFrame) => void;
  readonly #options: RealmOptions;
  readonly #packages = new Map<string, PackageEntry>();
  /** The package entry of each conversation, released with it. */
  readonly #entryOf = new Map<number, PackageEntry>();
  readonly #loads = new Map<
    number,
    { pkg: LoadedPackage; resolve(pkg: LoadedPackage): void; reject(err: ProtoflyError): void }
  >();
  readonly #conversations = new Map<number, Conversation>();
  readonly #sessions = new Map<string, HostSession>();
  readonly #sessionsById = new Map<number, HostSession>();
  /** What every conversation here reaches the realm through. */
  readonly #link: ConversationLink;
  #ids = 0;

  constructor(post: (frame: HostFrame) => void, options: RealmOptions) {
    this.#post = post;
    this.#options = options;
    this.#link = {
      post: (frame) => this.#send(frame),
      release: (conversation) => this.#release(conversation),
      log: options.log,
    };
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    // Whoever awaits `ready` sees the failure; nobody awaiting is not an unhandled rejection.
    this.ready.catch(() => {});
    post({ t: 'init', limits: options.limits });
  }

  get label(): string {
    return this.#options.label;
  }

  /** Why the realm died, or undefined while it lives. */
  get dead(): ProtoflyError | undefined {
    return this.#dead;
  }

  /** The worker's runtime is up (it said `ready`): from then on, an unanswered heartbeat is its own. */
  get started(): boolean {
    return this.#started;
  }

  /** Heartbeats asked for so far. */
  get pings(): number {
    return this.#pings;
  }

  /** Heartbeats answered so far, in the order asked. */
  get pongs(): number {
    return this.#pongs;
  }

  /** Conversations running here. */
  get conversations(): number {
    return this.#conversations.size;
  }

  /** The packages evaluated here (or being evaluated), as `domain/name@version`. */
  get packages(): string[] {
    return [...this.#packages.values()].map((entry) => entry.label);
  }

  /**
   * Evaluates a package version here, once: later calls with the same `key` share the result.
   *
   * @throws ProtoflyError `PF_ERR_SANDBOX` when it cannot be evaluated, or is not made for
   *   this realm's runtime; `PF_ERR_POLICY` when its endpoints or limits are outside the policy.
   */
  load(key: string, descriptor: StubDescriptor, script: string): Promise<LoadedPackage> {
    const known = this.#packages.get(key);
    if (known) {
      // Needed again: whoever unloaded it, this caller's activation keeps it.
      known.uses++;
      known.unload = false;
      return known.loaded;
    }
    if (this.#dead) return Promise.reject(this.#dead);
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
    const id = this.#nextId();
    const endpoints = compileEndpoints(constraints.endpoints);
    const loaded = new Promise<LoadedPackage>((resolve, reject) => {
      this.#loads.set(id, { pkg: { id, key, domain, name, label, endpoints, limits }, resolve, reject });
    });
    const entry: PackageEntry = { key, id, label, loaded, uses: 1, unload: false };
    // A package that failed to evaluate is not cached: a later try evaluates it again.
    loaded.catch(() => {
      if (this.#packages.get(key) === entry) this.#packages.delete(key);
    });
    this.#packages.set(key, entry);
    this.#post({ t: 'load', pkg: id, name: label, script, endpoints: constraints.endpoints, limits });
    return loaded;
  }

  /**
   * Activates a package for one conversation, right after {@link load} returned it (the load
   * keeps it evaluated until then); resolves once `activate` returned a stub.
   */
  activate(pkg: LoadedPackage, ctx: ConversationContext): Promise<StubHandle> {
    if (this.#dead) return Promise.reject(this.#dead);
    const cid = this.#nextId();
    const entry = this.#packages.get(pkg.key);
    if (entry?.id === pkg.id) this.#entryOf.set(cid, entry);
    const { domain } = pkg;
    // Per evaluated package: another version (or the same bytes under another descriptor) is
    // other code, and its instances must not find this one's objects in their session.
    const session = this.#session(`${pkg.id}\n${ctx.identity.address}`);
    const conversation = new Conversation(
      cid,
      ctx.id ?? `c${cid}`,
      pkg.label,
      session,
      pkg.endpoints,
      pkg.limits,
      ctx,
      this.#link,
    );
    this.#conversations.set(cid, conversation);
    const identity =
      ctx.identity.token === undefined
        ? { address: ctx.identity.address }
        : { address: ctx.identity.address, token: ctx.identity.token };
    try {
      this.#post({
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
      conversation.fail(
        new ProtoflyError(
          'PF_ERR_CONFIG',
          `conversation ${conversation.id}: its config cannot cross to the sandbox (${(err as Error).message})`,
          { conversation: conversation.id },
        ),
      );
    }
    return conversation.activated;
  }

  /** Asks for a heartbeat answer. */
  ping(): void {
    if (this.#dead) return;
    this.#pings++;
    this.#send({ t: 'ping' });
  }

  /**
   * Resolves with the worker's memory as it answers a heartbeat asked for now (not one asked
   * earlier, whose answer may be on its way); at once if the realm died.
   */
  measure(): Promise<{ heap: number; external: number }> {
    this.ping();
    const ping = this.#pings;
    const answered = new Promise<void>((resolve) => {
      if (this.#dead) resolve();
      else this.#awaiting.push({ ping, answered: resolve });
    });
    return answered.then(() => ({ heap: this.heap, external: this.external }));
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

  /** Stops every conversation here; resolves when all are stopped (or the realm died). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#conversations.values()].map((c) => c.stop()));
  }

  /**
   * The worker is gone (or is being killed): every load and conversation here fails with
   * `err`, every socket closes. Idempotent.
   */
  die(err: ProtoflyError): void {
    if (this.#dead) return;
    this.#dead = err;
    this.#failReady(err);
    for (const { answered } of this.#awaiting.splice(0)) answered();
    for (const load of this.#loads.values()) load.reject(err);
    this.#loads.clear();
    for (const conversation of [...this.#conversations.values()]) conversation.fail(err);
    for (const session of this.#sessions.values()) this.#closeSockets(session, 1001, 'sandbox worker ended');
    this.#sessions.clear();
    this.#sessionsById.clear();
  }

  /** Handles one frame from the worker. */
  receive(frame: WorkerFrame): void {
    switch (frame.t) {
      case 'send':
        this.#conversations.get(frame.cid)?.onSend(frame.json);
        return this.#consume(frame.session, costOf(frame));
      case 'ack': {
        const session = this.#sessionsById.get(frame.session);
        if (!session) return;
        session.out.release(frame.bytes);
        return session.flow();
      }
      case 'socketSend':
        this.#sessionsById.get(frame.session)?.sockets.get(frame.sock)?.send(String(frame.data));
        return this.#consume(frame.session, costOf(frame));
      case 'status':
        this.#conversations.get(frame.cid)?.onStatus(frame.status, frame.detail, frame.code);
        return this.#consume(frame.session, costOf(frame));
      case 'log':
        this.#log(frame);
        return this.#consume(frame.session, costOf(frame));
      case 'connect':
        this.#connect(frame);
        return this.#consume(frame.session, costOf(frame));
      case 'socketClose':
        this.#closeSocket(frame.session, frame.sock, frame.code, frame.reason);
        return this.#consume(frame.session, costOf(frame));
      case 'pong':
        this.external = frame.external;
        this.heap = frame.heap;
        this.#pongs++;
        while (this.#awaiting[0] && this.#awaiting[0].ping <= this.#pongs) this.#awaiting.shift()!.answered();
        if (frame.rejections > 0) {
          this.#options.log.warn(
            { realm: this.label, rejections: frame.rejections },
            `stubs in ${this.label} left ${frame.rejections} promise rejection(s) unhandled`,
          );
        }
        return;
      case 'memory':
        // The host that metered the worker ends it (see NodeWorkerHost).
        return;
      case 'ready':
        this.#started = true;
        // Ready once warm: the first package then finds the worker's code paths compiled.
        return void warmUp(this).then(this.#markReady);
      case 'loaded':
        return this.#loaded(frame.pkg, frame.error);
      case 'activated':
        return this.#conversations.get(frame.cid)?.onActivated();
      case 'failed': {
        const conversation = this.#conversations.get(frame.cid);
        conversation?.fail(
          new ProtoflyError(
            'PF_ERR_SANDBOX',
            `stub ${conversation.stub} of conversation ${conversation.id} threw in ${frame.where}: ${frame.error}`,
            { conversation: conversation.id, stub: conversation.stub, where: frame.where },
          ),
        );
        return;
      }
      case 'stopped':
        return this.#conversations.get(frame.cid)?.onStopped(frame.error);
      case 'snapshot':
        return this.#conversations.get(frame.cid)?.onSnapshot(frame.json, frame.error);
      case 'flood': {
        const conversation = this.#conversations.get(frame.cid);
        conversation?.refused(
          new ProtoflyError(
            'PF_ERR_FLOOD',
            `stub ${conversation.stub} of conversation ${conversation.id} went over its channel window or its message rate; its ${frame.what} and what follows are refused until it is back under`,
            { conversation: conversation.id, stub: conversation.stub, what: frame.what },
          ),
        );
        return;
      }
    }
  }

  // ---- helpers ----

  #nextId(): number {
    this.#ids += 1;
    return this.#ids;
  }

  #send(frame: HostFrame): void {
    if (!this.#dead) this.#post(frame);
  }

  #loaded(id: number, error: string | undefined): void {
    const load = this.#loads.get(id);
    if (!load) return;
    this.#loads.delete(id);
    if (error === undefined) return load.resolve(load.pkg);
    load.reject(
      new ProtoflyError('PF_ERR_SANDBOX', `package ${load.pkg.label} could not be evaluated: ${error}`, {
        package: load.pkg.label,
      }),
    );
  }

  #session(key: string): HostSession {
    let session = this.#sessions.get(key);
    if (!session) {
      session = new HostSession(this.#nextId(), key, this.#options.limits.windowBytes);
      this.#sessions.set(key, session);
      this.#sessionsById.set(session.id, session);
    }
    session.refs++;
    return session;
  }

  #dropIfUnused(entry: PackageEntry): void {
    if (!entry.unload || entry.uses > 0 || this.#packages.get(entry.key) !== entry) return;
    this.#packages.delete(entry.key);
    this.#send({ t: 'unload', pkg: entry.id });
  }

  #release(conversation: Conversation): void {
    this.#conversations.delete(conversation.cid);
    const entry = this.#entryOf.get(conversation.cid);
    if (entry) {
      this.#entryOf.delete(conversation.cid);
      entry.uses--;
      this.#dropIfUnused(entry);
    }
    const session = conversation.session;
    session.refs--;
    if (session.refs > 0 || this.#sessions.get(session.key) !== session) return;
    this.#sessions.delete(session.key);
    this.#sessionsById.delete(session.id);
    this.#closeSockets(session, 1000, 'session ended');
    this.#send({ t: 'endSession', session: session.id });
  }

  /** Acknowledges processed frames of a session, once per half window. */
  #consume(sessionId: number, cost: number): void {
    const session = this.#sessionsById.get(sessionId);
    if (!session) return;
    const bytes = session.in.consume(cost);
    if (bytes > 0) this.#send({ t: 'ack', session: sessionId, bytes });
  }

  #log(frame: Extract<WorkerFrame, { t: 'log' }>): void {
    const conversation = this.#conversations.get(frame.cid);
    if (!conversation || conversation.ended || !LOG_LEVELS.includes(frame.level)) return;
    const fields: Record<string, unknown> = { stub: conversation.stub, conversation: conversation.id };
    if (frame.data !== undefined) fields.data = frame.data;
    if (frame.dropped !== undefined) fields.dropped = frame.dropped;
    this.#options.log[frame.level](fields, String(frame.line));
  }

  #connect(frame: Extract<WorkerFrame, { t: 'connect' }>): void {
    const { sock } = frame;
    const conversation = this.#conversations.get(frame.cid);
    const session = this.#sessionsById.get(frame.session);
    if (!conversation || conversation.ended || !session || conversation.session !== session) return;
    const fail = (err: ProtoflyError) => {
      conversation.refused(err);
      this.#toStub(session, sock, { type: 'error', message: err.message }, true);
      this.#toStub(session, sock, { type: 'close', code: 1006, reason: err.code }, true);
    };
    // The worker runtime checked all of this already; the host checks again because it is the
    // one that opens the socket.
    const url = conversation.endpoints(frame.url);
    if (url === undefined) {
      return fail(
        new ProtoflyError(
          'PF_ERR_ENDPOINT',
          `stub ${conversation.stub} tried to connect to '${String(frame.url)}', outside its endpoint allow-list`,
          { url: String(frame.url), conversation: conversation.id },
        ),
      );
    }
    const host = new URL(url).hostname;
    try {
      assertAddress(host, this.#options.policy, url, `stub ${conversation.stub}`);
    } catch (err) {
      return fail(err as ProtoflyError);
    }
    const max = conversation.limits.maxSocketsPerSession;
    const protocols = frame.protocols;
    if (
      session.sockets.size >= max ||
      session.sockets.has(sock) ||
      !Array.isArray(protocols) ||
      !protocols.every((p) => typeof p === 'string')
    ) {
      return fail(
        new ProtoflyError(
          'PF_ERR_FLOOD',
          `stub ${conversation.stub} asked for socket ${sock} beyond ${max} per session, or with bad protocols`,
          { conversation: conversation.id },
        ),
      );
    }
    try {
      const socket = this.#options.openSocket(
        url,
        protocols,
        {
          open: (protocol) => this.#toStub(session, sock, { type: 'open', protocol }),
          message: (data) => this.#toStub(session, sock, { type: 'message', data }),
          close: (code, reason) => {
            session.sockets.delete(sock);
            this.#toStub(session, sock, { type: 'close', code, reason }, true);
          },
          error: (message) => this.#toStub(session, sock, { type: 'error', message }),
        },
        {
          maxPayload: this.#options.limits.maxFrameBytes,
          // DNS may answer with an address the name did not show (rebinding): checked before connecting.
          checkAddress: (address) => {
            try {
              assertAddress(
                address,
                this.#options.policy,
                url,
                `stub ${conversation.stub} (${host} resolved)`,
              );
            } catch (err) {
              conversation.refused(err as ProtoflyError);
              throw err;
            }
          },
        },
      );
      session.sockets.set(sock, socket);
      if (session.paused) socket.pause();
    } catch (err) {
      fail(
        new ProtoflyError(
          'PF_ERR_ENDPOINT',
          `stub ${conversation.stub} could not open '${url}': ${(err as Error).message}`,
          { url, conversation: conversation.id },
        ),
      );
    }
  }

  /** Forwards a socket event to the stub, charging its session (socket data cannot be refused, so the socket pauses instead). */
  #toStub(session: HostSession, sock: number, event: SocketEvent, always = false): void {
    if (!always && !session.sockets.has(sock)) return;
    const frame: HostFrame = { t: 'socket', session: session.id, sock, event };
    session.out.charge(costOf(frame));
    session.flow();
    this.#send(frame);
  }

  #closeSocket(sessionId: number, sock: number, code: number | undefined, reason: string | undefined): void {
    const socket = this.#sessionsById.get(sessionId)?.sockets.get(sock);
    try {
      socket?.close(code, reason);
    } catch (err) {
      this.#options.log.debug(
        { realm: this.label, sock },
        `closing socket ${sock}: ${(err as Error).message}`,
      );
    }
  }

  #closeSockets(session: HostSession, code: number, reason: string): void {
    for (const socket of session.sockets.values()) {
      try {
        socket.close(code, reason);
      } catch {
        // Already closing: nothing more to do.
      }
    }
    session.sockets.clear();
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
