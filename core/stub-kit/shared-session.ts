import type { StubErrorCode } from '../errors.js';
import type { StubContext, StubStatus } from '../stub.js';

/**
 * What the instances of one stub share per domain and identity (`ctx.session`): one socket, one
 * registration, whatever the protocol keeps for a user. The instances (one per conversation, and
 * the inbox) join and leave it as members ({@link SessionMember}); the protocol's state stays in the stub.
 */

/** The two timer calls of a stub context. A {@link SharedSession} offers them on its owner's. */
export type TimerHost = Pick<StubContext, 'setTimeout' | 'clearTimeout'>;

/** Why a shared session failed: what members read, and the stub-facing code the app gets, if any. */
export interface Failure {
  readonly detail: string;
  readonly code: StubErrorCode | undefined;
}

/** One stub instance as a member of a shared session: its context, and the status it reported last. */
export class SessionMember {
  status: StubStatus = 'created';

  constructor(readonly ctx: StubContext) {}

  /**
   * Reports `status` (with `failed`, the code it failed with) unless it is the one reported last.
   * A member that never reported waits as `connecting`, not `disconnected` (core/stub.ts's
   * transitions). Never throws: a status the host refuses is logged and not recorded.
   */
  report(status: StubStatus, detail?: string, code?: StubErrorCode): void {
    const next = this.status === 'created' && status === 'disconnected' ? 'connecting' : status;
    if (this.status === next) return;
    try {
      this.ctx.status(next, detail, code);
      this.status = next;
    } catch (err) {
      this.ctx.log.warn('status not reported', { status: next, error: (err as Error).message });
    }
  }
}

/** A timer of the session, and the owner's timer that runs it now. */
interface Armed {
  readonly run: () => void;
  /** Its deadline (`Date.now()`), kept when it moves to another owner. */
  readonly at: number;
  host: number;
}

/**
 * The plumbing of a shared session: its members in the order they joined, the status they all
 * report, and timers on its owner's context.
 *
 * - The owner is the oldest member: a context's timers end with its conversation, and the
 *   session outlives conversations. When the owner leaves, every timer moves at once to the next
 *   oldest, keeping its deadline; the last member stays the owner until the session closes.
 * - {@link broadcast} reports a status to every member, {@link fail} fails them all with a code;
 *   a member joining later reports what the others did (`live`, `failed` with the same detail
 *   and code, else `connecting`).
 */
export class SharedSession<M extends SessionMember = SessionMember> implements TimerHost {
  readonly #members: M[] = [];
  readonly #timers = new Map<number, Armed>();
  #nextTimer = 1;
  #owner: StubContext;
  #status: Exclude<StubStatus, 'stopped'> = 'created';
  #failure: Failure | undefined;

  /** A session owned by `ctx`, held in `ctx.session` under `key` (see {@link shared}). */
  constructor(
    ctx: StubContext,
    readonly key: string,
  ) {
    this.#owner = ctx;
  }

  /** The members, oldest first. */
  get members(): readonly M[] {
    return this.#members;
  }

  /** The context whose timers, connections and log the session uses: its oldest member's. */
  get owner(): StubContext {
    return this.#owner;
  }

  /** The status last broadcast (`created` before any). */
  get status(): Exclude<StubStatus, 'stopped'> {
    return this.#status;
  }

  /** Why it failed, once it did. */
  get failure(): Failure | undefined {
    return this.#failure;
  }

  /** Adds `member`, which reports the session's status. */
  join(member: M): void {
    this.#members.push(member);
    if (this.#failure) member.report('failed', this.#failure.detail, this.#failure.code);
    else member.report(this.#status === 'live' ? 'live' : 'connecting');
  }

  /**
   * Takes `member` out; its timers move to the next oldest when it was the owner. False when it
   * was not a member (it left already). The stub closes the session when none is left.
   */
  leave(member: M): boolean {
    const i = this.#members.indexOf(member);
    if (i < 0) return false;
    this.#members.splice(i, 1);
    const next = this.#members[0];
    if (next && member.ctx === this.#owner) this.#rehome(next.ctx);
    return true;
  }

  /** Every member reports `status`. */
  broadcast(status: 'connecting' | 'live' | 'disconnected', detail?: string): void {
    this.#status = status;
    for (const m of this.#members) m.report(status, detail);
  }

  /**
   * Fails for good: every member, and every one joining later, reports `failed` with `detail`
   * and `code` (a stub-facing code: the app gets it). `settle` runs first, with the failure
   * recorded: what the members still wait for is answered there, as after its `failed` the host
   * takes nothing more from a member.
   */
  fail(detail: string, code?: StubErrorCode, settle?: () => void): void {
    this.#status = 'failed';
    this.#failure = { detail, code };
    settle?.();
    for (const m of this.#members) m.report('failed', detail, code);
  }

  /** Calls `fn` after `ms` milliseconds on the owner's clock, whoever the owner is then. */
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextTimer++;
    const run = () => {
      this.#timers.delete(id);
      fn();
    };
    this.#timers.set(id, { run, at: Date.now() + ms, host: this.#owner.setTimeout(run, ms) });
    return id;
  }

  clearTimeout(id: number): void {
    const timer = this.#timers.get(id);
    if (!timer) return;
    this.#owner.clearTimeout(timer.host);
    this.#timers.delete(id);
  }

  /** Ends the session: its timers stop, and `ctx.session` forgets it (the next instance starts afresh). */
  close(): void {
    for (const timer of this.#timers.values()) this.#owner.clearTimeout(timer.host);
    this.#timers.clear();
    this.#owner.session.delete(this.key);
  }

  /** Moves every timer to `owner`'s context, deadlines kept: the old owner's end with it. */
  #rehome(owner: StubContext): void {
    for (const timer of this.#timers.values()) this.#owner.clearTimeout(timer.host);
    this.#owner = owner;
    const now = Date.now();
    for (const timer of this.#timers.values()) {
      timer.host = owner.setTimeout(timer.run, Math.max(0, timer.at - now));
    }
  }
}

/** What `ctx.session` holds under `key`: made by `make`, and stored, by the first instance. */
export function shared<T>(ctx: StubContext, key: string, make: () => T): T {
  let value = ctx.session.get(key) as T | undefined;
  if (value === undefined) {
    value = make();
    ctx.session.set(key, value);
  }
  return value;
}
