// A little over 400 lines, for one thing: everything a stub instance's ctx can do, each
// capability checked and charged here, at the one place the untrusted side calls.
import { type ErrorCode, isStubErrorCode, ProtoflyError } from '../../core/errors.js';
import type { Message } from '../../core/message.js';
import {
  assertTransition,
  type SocketDelegate,
  type Stub,
  type StubSocket,
  type StubStatus,
} from '../../core/stub.js';
import {
  costOf,
  type EntryPoint,
  type LogLevel,
  MAX_LOG_TEXT,
  type PackageLimits,
  type StubLimits,
  type WorkerFrame,
} from '../channel.js';
import type { EndpointMatcher } from '../endpoint.js';
import { describeError } from './describe.js';
import { guard } from './guard.js';
import { RateLimit } from './rate.js';
import type { WorkerSession, WorkerSocket } from './session.js';

/** A package version evaluated in this worker. */
export interface WorkerPackage {
  readonly name: string;
  readonly activate: (ctx: unknown) => unknown;
  readonly endpoints: EndpointMatcher;
  /** The limits the host selected for it. */
  readonly limits: PackageLimits;
}

/** What an instance needs from the supervisor it lives in. */
export interface InstanceSupervisor {
  readonly limits: StubLimits;
  post(frame: WorkerFrame): void;
  harden<T>(value: T): T;
  /** A fresh id for a timer or a socket, unique in this worker. */
  nextId(): number;
  addSocket(socket: WorkerSocket): void;
  /** The instance ended (stopped or failed): forget it. */
  ended(instance: WorkerInstance): void;
}

const CLOSE_CODE_OK = (code: number) => code === 1000 || (code >= 3000 && code <= 4999);

/**
 * The worker side of one stub instance (one conversation's; the host side is
 * sandbox/instance.ts): what backs every `ctx` capability, and the guard around every call
 * into the stub. Whatever the stub throws, in whichever entry point, ends this instance and
 * no other.
 *
 * Timers and sockets may serve the whole session (one connection shared by a domain's
 * conversations, driven by the first one's `ctx`). So once the instance ends, its `ctx` still
 * sets timers and opens sockets for the session while another of its instances lives, and
 * the timers it failed with go on for the session (see {@link WorkerSession}); what is
 * the conversation's own (`send`, `status`, `log`) ends with it.
 */
export class WorkerInstance {
  #status: StubStatus = 'created';
  #state: 'active' | 'stopping' | 'ended' = 'active';
  stub: Stub | undefined;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #logRate: RateLimit;
  #logDropped = 0;
  readonly #sendRate: RateLimit;

  constructor(
    readonly cid: number,
    readonly pkg: WorkerPackage,
    readonly session: WorkerSession,
    readonly supervisor: InstanceSupervisor,
    /** The one address it may send from (`ctx.peer`); undefined for the inbox. */
    readonly peer?: string,
  ) {
    this.#logRate = new RateLimit(supervisor.limits.logPerSecond, supervisor.limits.logBurst);
    session.instances.add(this);
    const { messagesPerSecond } = pkg.limits;
    this.#sendRate = new RateLimit(messagesPerSecond, messagesPerSecond);
  }

  get active(): boolean {
    return this.#state === 'active';
  }

  /**
   * Calls into the stub; a throw or a rejection fails this instance. Once it ended, the call
   * serves its session (a timer or socket it left there), which answers for it.
   */
  invoke(where: EntryPoint, call: () => unknown): void {
    if (this.#state === 'ended') {
      this.session.run(where, call, this.cid);
      return;
    }
    guard(call, (err) => this.fail(where, describeError(err)));
  }

  /** Ends the instance because the stub failed in `where`, for the reason `why`. */
  fail(where: EntryPoint, why: string): void {
    if (this.#state === 'ended') return;
    // The stub had no say in this end: its timers may drive what the session's other
    // instances share, so they go on for the session.
    this.#end(true);
    this.supervisor.post({ t: 'failed', cid: this.cid, where, error: why });
  }

  /** Calls the stub's `stop()` (bounded by `stopTimeoutMs`), then ends the instance. */
  stop(): void {
    if (this.#state !== 'active') return;
    this.#state = 'stopping';
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#end(false);
      this.supervisor.post(
        error === undefined ? { t: 'stopped', cid: this.cid } : { t: 'stopped', cid: this.cid, error },
      );
    };
    const timer = setTimeout(
      () => finish(`stop() did not settle within ${this.supervisor.limits.stopTimeoutMs} ms`),
      this.supervisor.limits.stopTimeoutMs,
    );
    try {
      Promise.resolve(this.stub?.stop()).then(
        () => finish(),
        (err: unknown) => finish(describeError(err)),
      );
    } catch (err) {
      finish(describeError(err));
    }
  }

  /**
   * Leaves the session at once. Its timers end with it, unless `orphan` and the session has
   * another instance: then they pass to the session.
   */
  #end(orphan: boolean): void {
    this.#state = 'ended';
    this.session.instances.delete(this);
    const keep = orphan && this.session.steward !== undefined;
    for (const [id, timer] of this.#timers) {
      if (keep) this.session.timers.set(id, timer);
      else clearTimeout(timer);
    }
    this.#timers.clear();
    this.supervisor.ended(this);
  }

  // ---- the capabilities behind ctx ----

  send(msg: Message): void {
    this.#assertOpen('send');
    // The host refuses any other sender as well; refused here, at once, a stub routing through
    // a session's conversations (one connection for all) can try the next one.
    const from = this.peer === undefined || msg === null || typeof msg !== 'object' ? undefined : msg.from;
    if (from !== undefined && from !== this.peer) {
      throw this.#refuse(
        'PF_ERR_SPOOF',
        `ctx.send: conversation ${this.cid} sends from ${this.peer} only, not ${cut(String(from))}`,
      );
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(msg);
    } catch (err) {
      throw this.#refuse('PF_ERR_SCHEMA', `ctx.send: the message is not JSON (${describeError(err)})`);
    }
    if (typeof json !== 'string')
      throw this.#refuse('PF_ERR_SCHEMA', `ctx.send: ${typeof msg} is not a message`);
    this.#assertSize('ctx.send: message', json.length);
    this.#assertRate();
    this.#post({ t: 'send', cid: this.cid, session: this.session.id, json }, 'send');
  }

  status(status: StubStatus, detail?: string, code?: unknown): void {
    this.#assertOpen('status');
    try {
      assertTransition(this.#status, status);
    } catch (err) {
      throw this.#refuse('PF_ERR_STATUS', (err as Error).message);
    }
    if (code !== undefined && !(status === 'failed' && isStubErrorCode(code))) {
      throw this.#refuse(
        'PF_ERR_STATUS',
        `ctx.status: ${status} with code ${String(code).slice(0, 64)}: a stub fails with a stub-facing code only`,
      );
    }
    const text = detail === undefined ? undefined : cut(String(detail));
    this.#post(
      {
        t: 'status',
        cid: this.cid,
        session: this.session.id,
        status,
        ...(text === undefined ? {} : { detail: text }),
        ...(code === undefined ? {} : { code }),
      },
      'status',
    );
    this.#status = status;
  }

  log(level: LogLevel, line: unknown, data: unknown): void {
    if (this.#state === 'ended') return;
    if (!this.#logRate.take()) {
      this.#logDropped++;
      return;
    }
    let json: string | undefined;
    if (data !== undefined) {
      try {
        json = JSON.stringify(data);
      } catch {
        json = '"(not JSON)"';
      }
    }
    const frame: WorkerFrame = {
      t: 'log',
      cid: this.cid,
      session: this.session.id,
      level,
      line: cut(String(line)),
      ...(json === undefined ? {} : { data: cut(json) }),
      ...(this.#logDropped > 0 ? { dropped: this.#logDropped } : {}),
    };
    this.#post(frame, 'log');
    this.#logDropped = 0;
  }

  connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    const agent = this.#agent('connect');
    const allowed = this.pkg.endpoints(url);
    if (allowed === undefined) {
      throw this.#refuse(
        'PF_ERR_ENDPOINT',
        `ctx.connect: '${cut(String(url))}' is not in the endpoint allow-list of ${this.pkg.name}`,
      );
    }
    const list = Array.isArray(protocols) ? Array.from(protocols, String) : undefined;
    if (list === undefined) throw this.#refuse('PF_ERR_ENDPOINT', 'ctx.connect: protocols must be an array');
    if (delegate === null || typeof delegate !== 'object' || typeof delegate.onMessage !== 'function') {
      throw this.#refuse('PF_ERR_ENDPOINT', 'ctx.connect: the delegate needs an onMessage function');
    }
    const max = this.pkg.limits.maxSocketsPerSession;
    if (this.session.sockets.size >= max) {
      throw this.#refuse('PF_ERR_FLOOD', `ctx.connect: the session already holds ${max} sockets`);
    }
    const sock = this.supervisor.nextId();
    this.#post(
      { t: 'connect', cid: agent.cid, session: this.session.id, sock, url: allowed, protocols: list },
      'connect',
    );
    const socket: WorkerSocket = { sock, session: this.session, opener: this, delegate, state: 'connecting' };
    this.session.sockets.set(sock, socket);
    this.supervisor.addSocket(socket);
    return this.supervisor.harden({
      send: (data: string) => this.#socketSend(socket, data),
      close: (code?: number, reason?: string) => this.#socketClose(socket, code, reason),
    });
  }

  #socketSend(socket: WorkerSocket, data: string): void {
    if (socket.state !== 'open') {
      throw this.#refuse('PF_ERR_CLOSED', `socket ${socket.sock} is ${socket.state}, not open`);
    }
    if (typeof data !== 'string')
      throw this.#refuse('PF_ERR_FRAME', `socket.send takes a string, not ${typeof data}`);
    this.#assertSize('socket.send: data', data.length);
    this.#post({ t: 'socketSend', session: this.session.id, sock: socket.sock, data }, 'socket.send');
  }

  #socketClose(socket: WorkerSocket, code?: number, reason?: string): void {
    if (socket.state === 'closed') return;
    if (code !== undefined && !(Number.isInteger(code) && CLOSE_CODE_OK(code))) {
      throw this.#refuse('PF_ERR_FRAME', `socket.close: code ${String(code)} is not 1000 or 3000-4999`);
    }
    const text = reason === undefined ? undefined : String(reason).slice(0, 120);
    this.#post(
      { t: 'socketClose', session: this.session.id, sock: socket.sock, code, reason: text },
      'socket.close',
    );
  }

  timer(fn: () => void, ms: number, repeat: boolean): number {
    const what = repeat ? 'setInterval' : 'setTimeout';
    this.#agent(what);
    if (typeof fn !== 'function')
      throw this.#refuse('PF_ERR_SANDBOX', `ctx.${what} takes a function, not ${typeof fn}`);
    const max = this.pkg.limits.maxTimers;
    if (this.#timers.size >= max) {
      throw this.#refuse('PF_ERR_FLOOD', `ctx.${what}: ${max} timers are pending already, the limit`);
    }
    const delay = Math.min(Math.max(Number(ms) || 0, 0), 2 ** 31 - 1);
    const id = this.supervisor.nextId();
    const run = () => {
      if (!repeat) {
        this.#timers.delete(id);
        this.session.timers.delete(id);
      }
      if (this.#state !== 'ended') return this.invoke('timer', fn);
      // The session's now: one that throws is cleared, as nobody answers for it.
      if (!this.session.run('timer', fn, this.cid)) this.clearTimer(id);
    };
    const timer = repeat ? setInterval(run, delay) : setTimeout(run, delay);
    (this.#state === 'ended' ? this.session.timers : this.#timers).set(id, timer);
    return id;
  }

  /** Clears a timer of this instance, or one its session took over. */
  clearTimer(id: number): void {
    const own = this.#timers.get(id);
    const timer = own ?? this.session.timers.get(id);
    if (timer === undefined) return;
    // Timeouts and intervals share one id space (HTML, Node): clearTimeout ends either.
    clearTimeout(timer);
    if (own === undefined) this.session.timers.delete(id);
    else this.#timers.delete(id);
  }

  // ---- helpers ----

  /**
   * Posts a frame against the session's credit; refuses with `PF_ERR_FLOOD` when the window is
   * full. Every refusal of one episode throws the same hardened error: building an error costs
   * microseconds under SES, and a stub refused in a tight loop would otherwise spend its turn
   * there until the watchdog ends the whole worker, acks and all.
   */
  #post(frame: WorkerFrame, what: string): void {
    const session = this.session;
    if (!session.out.take(costOf(frame))) {
      if (session.flood === undefined) {
        session.flood = this.supervisor.harden(
          new ProtoflyError(
            'PF_ERR_FLOOD',
            `${what} refused: session ${session.id} has ${session.out.inFlight} bytes unacknowledged (window ${session.out.windowBytes}); what its stubs send is refused until the host catches up`,
            { session: session.id, window: session.out.windowBytes },
          ),
        );
        const cid = this.#state === 'ended' ? (this.session.steward?.cid ?? this.cid) : this.cid;
        this.supervisor.post({ t: 'flood', cid, what });
      }
      throw session.flood;
    }
    this.supervisor.post(frame);
  }

  /**
   * Refuses a message over the package's rate. It shares the session's flood episode with the
   * window (see {@link #post}): one hardened error and one report to the host per episode.
   */
  #assertRate(): void {
    if (this.#sendRate.take()) return;
    const session = this.session;
    if (session.flood === undefined) {
      const rate = this.pkg.limits.messagesPerSecond;
      session.flood = this.supervisor.harden(
        this.#refuse('PF_ERR_FLOOD', `ctx.send refused: over ${rate} messages per second`),
      );
      this.supervisor.post({ t: 'flood', cid: this.cid, what: `send (over ${rate} per second)` });
    }
    throw session.flood;
  }

  /**
   * Who acts for a session capability (a timer, a socket) asked through this `ctx`: this
   * instance, or once it ended, the session's oldest live one.
   *
   * @throws ProtoflyError `PF_ERR_CLOSED` when the instance ended and its session has no other.
   */
  #agent(what: string): WorkerInstance {
    if (this.#state !== 'ended') return this;
    const steward = this.session.steward;
    if (steward) return steward;
    throw this.#refuse(
      'PF_ERR_CLOSED',
      `ctx.${what}: conversation ${this.cid} has ended, and no other conversation uses its session`,
    );
  }

  #assertOpen(what: string): void {
    if (this.#state === 'ended') {
      throw this.#refuse('PF_ERR_CLOSED', `ctx.${what}: conversation ${this.cid} has ended`);
    }
  }

  #assertSize(what: string, length: number): void {
    const max = this.supervisor.limits.maxFrameBytes;
    if (length > max)
      throw this.#refuse('PF_ERR_TOO_LARGE', `${what} of ${length} characters is over ${max}`);
  }

  #refuse(code: ErrorCode, message: string): ProtoflyError {
    return new ProtoflyError(code, message, { conversation: this.cid });
  }
}

function cut(text: string): string {
  return text.length > MAX_LOG_TEXT ? `${text.slice(0, MAX_LOG_TEXT)}…` : text;
}
