import { isStubErrorCode, type StubErrorCode } from '../errors.js';
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

/**
 * One stub instance as a member of a shared session: its context, and the status it reported
 * last. `report(status, detail?, code?)` reports a status (with `failed`, the code it failed
 * with) unless it is the one reported last; a member that never reported waits as `connecting`,
 * not `disconnected` (core/stub.ts's transitions). It never throws: a status the host refuses
 * is logged and not recorded.
 */
export class SessionMember {
  status: StubStatus = 'created';

  constructor(readonly ctx: StubContext) {}

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
 * The plumbing of a shared session, owned by the context it is made with and held in
 * `ctx.session` under `key` (see {@link shared}).
 *
 * - `members`, oldest first. `join(member)` adds one, which reports what the others did (`live`,
 *   `failed` with the same detail and code, else `connecting`); `leave(member)` takes one out
 *   (false when it had left already). The stub closes the session when none is left: `close()`
 *   stops its timers, and `ctx.session` forgets it, so the next instance starts afresh.
 * - `owner` is the oldest member's context: the session's timers, connections and log are its.
 *   A context's timers end with its conversation, and the session outlives conversations: when
 *   the owner leaves, every timer moves at once to the next oldest, deadline kept. The last
 *   member stays the owner until the session closes.
 * - `setTimeout(fn, ms)` and `clearTimeout(id)`: timers on the owner's clock, whoever the owner
 *   is when they run.
 * - `broadcast(status, detail?)`: every member reports a status. `fail(detail, code?, settle?)`
 *   fails for good: every member, and every one joining later, reports `failed` with `detail`
 *   and `code`, the far side's verdict, which the app gets. It is kept only when a stub may give
 *   it (core/errors.ts, `stub: true`; the host refuses any other): a stub passes on what the far
 *   side said unchecked. `failure` says why afterwards. `settle`
 *   runs first, with the failure recorded, to answer what the members still wait for: after its
 *   `failed` the host takes nothing more from a member.
 *
 * (What its members say is here rather than on them: esbuild keeps a member's comment in a
 * readable bundle, and every stub carries this class.)
 */
export class SharedSession<M extends SessionMember = SessionMember> implements TimerHost {
  readonly #members: M[] = [];
  readonly #timers = new Map<number, Armed>();
  #nextTimer = 1;
  #owner: StubContext;
  // Only whether it is live matters (to a member joining); a failure is `#failure`.
  #live = false;
  #failure: Failure | undefined;

  constructor(
    ctx: StubContext,
    readonly key: string,
  ) {
    this.#owner = ctx;
  }

  get members(): readonly M[] {
    return this.#members;
  }

  get owner(): StubContext {
    return this.#owner;
  }

  get failure(): Failure | undefined {
    return this.#failure;
  }

  join(member: M): void {
    this.#members.push(member);
    if (this.#failure) member.report('failed', this.#failure.detail, this.#failure.code);
    else member.report(this.#live ? 'live' : 'connecting');
  }

  leave(member: M): boolean {
    const i = this.#members.indexOf(member);
    if (i < 0) return false;
    this.#members.splice(i, 1);
    const next = this.#members[0];
    if (next && member.ctx === this.#owner) this.#rehome(next.ctx);
    return true;
  }

  broadcast(status: 'connecting' | 'live' | 'disconnected', detail?: string): void {
    this.#live = status === 'live';
    for (const m of this.#members) m.report(status, detail);
  }

  fail(detail: string, code?: string, settle?: () => void): void {
    const given = isStubErrorCode(code) ? code : undefined;
    this.#failure = { detail, code: given };
    settle?.();
    for (const m of this.#members) m.report('failed', detail, given);
  }

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

  close(): void {
    for (const timer of this.#timers.values()) this.#owner.clearTimeout(timer.host);
    this.#timers.clear();
    this.#owner.session.delete(this.key);
  }

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
