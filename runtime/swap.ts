import { asProtoflyError, ProtoflyError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { labelOf, type StubPackage } from '../core/plugin.js';
import type { Activation, ConversationScope } from './scope.js';
import { assertSnapshot } from './snapshot.js';

/**
 * A live swap: one running conversation moves to another version of its stub.
 *
 * 0. Prepare: the new version is evaluated in the sandbox host, before anything is held.
 * 1. Hold: the scope holds the conversation's outbound messages (bounded, in order).
 * 2. Snapshot: the old instance is asked for its optional snapshot, checked to be plain JSON.
 * 3. Activate: an instance of the new version starts with the snapshot as `ctx.snapshot`. The
 *    old one keeps running meanwhile, so inbound messages keep arriving through it.
 * 4. Live: once the new instance reports `live`, it carries the conversation and takes the
 *    held messages in order; then the old one stops.
 * 5. Rollback: if the snapshot is refused, or the new instance throws, fails, or is not live
 *    within the time-out, the old one takes the held messages and goes on; the new one stops.
 *    When the old one ended meanwhile (both ran in one worker, which the new version brought
 *    down), a new instance of the old version takes the snapshot and the held messages: nothing
 *    is dropped, and nothing is thrown at the app.
 *
 * A new version not live in time while the old one is not live either (the carrier's server is
 * unreachable) did not fail on its own: the outcome says `unreachable`, and the runtime tries
 * again once the conversation is live, rather than refusing the version.
 *
 * Inbound messages can come through both versions at once (a server that forks a user's
 * messages to each of its connections). Those that come through the new version while the old
 * one still runs are parked and delivered after it stopped, through the runtime's duplicate
 * filter: each stream arrives in order, and the old one's is a prefix of what the two carry,
 * so taking all of the old one's first keeps the order and the filter drops the copies.
 */

/** What a swap needs from its runtime. */
export interface SwapLink {
  /** Evaluates `pkg` where its instance will run (SandboxHost.prepare). */
  prepare(pkg: StubPackage): Promise<void>;
  /** Starts an instance of `pkg` for the scope's conversation, activated with `snapshot`. */
  start(scope: ConversationScope, pkg: StubPackage, snapshot: unknown): Activation;
  /** Stops an instance and counts it out; never rejects. */
  stop(instance: Activation): Promise<void>;
  /** Delivers an inbound message that came through `pkg`, through the duplicate filter. */
  deliver(pkg: StubPackage, msg: Message): void;
}

export interface SwapOutcome {
  readonly ok: boolean;
  /** Outbound messages held while the swap ran, and for how long, in ms. */
  readonly held: number;
  readonly heldMs: number;
  /** `PF_ERR_SWAP` when it was rolled back, with the cause's code in `detail.cause`. */
  readonly error?: ProtoflyError;
  /** The new version failed on its own (it threw, failed, or was not live in time while the old one was), not the old one's snapshot. */
  readonly newVersionFailed: boolean;
  /** The new version was not live in time while the carrier was unreachable (the old one was not live either): worth trying again. */
  readonly unreachable?: boolean;
  /**
   * A swap that went through: settles once the old instance stopped and what came through the
   * new version meanwhile was delivered. The new one carries the conversation already.
   */
  readonly retired?: Promise<void>;
}

/**
 * Moves the conversation of `scope` from its current instance to a new instance of `to`, or
 * rolls it back (see above). Resolves as the new instance takes over (the old one then retires,
 * see {@link SwapOutcome.retired}) or once rolled back. Never rejects: the outcome says what
 * happened.
 */
export async function swapLive(
  scope: ConversationScope,
  to: StubPackage,
  link: SwapLink,
  timeoutMs: number,
): Promise<SwapOutcome> {
  const from = scope.current;
  const deadline = performance.now() + timeoutMs;
  // Set once the conversation is held.
  let begun = Number.NaN;
  const failure = (cause: ProtoflyError, newVersionFailed: boolean, unreachable = false): SwapOutcome => ({
    ok: false,
    held: scope.held,
    heldMs: Number.isNaN(begun) ? 0 : performance.now() - begun,
    newVersionFailed,
    ...(unreachable ? { unreachable } : {}),
    error: new ProtoflyError(
      'PF_ERR_SWAP',
      `${scope.peer === undefined ? 'the inbox' : `conversation with ${scope.peer}`} stays on ${from ? labelOf(from.pkg) : 'no stub'}, not ${labelOf(to)}: ${cause.message}`,
      { peer: scope.peer, from: from?.pkg.descriptor.version, to: to.descriptor.version, cause: cause.code },
      { cause },
    ),
  });
  if (!from?.handle) {
    return failure(new ProtoflyError('PF_ERR_CONVERSATION', 'its stub instance is not running'), false);
  }

  // The new version is evaluated before the conversation is held: the hold waits for its
  // activation alone. A package that fails to evaluate fails again below, as the swap's cause.
  await within(link.prepare(to), deadline, timeoutMs, `the evaluation of ${labelOf(to)}`).catch(() => {});
  // Closed meanwhile: its disposal stopped the old instance, and must find no new one.
  const closed = () => failure(new ProtoflyError('PF_ERR_CLOSED', 'the conversation ended'), false);
  if (scope.disposed) return closed();

  scope.hold();
  begun = performance.now();
  let snapshot: unknown;
  try {
    snapshot = await within(
      from.handle.snapshot(),
      deadline,
      timeoutMs,
      `the snapshot of ${labelOf(from.pkg)}`,
    );
    assertSnapshot(snapshot, `snapshot of ${labelOf(from.pkg)}`);
  } catch (err) {
    const outcome = failure(asProtoflyError(err, 'PF_ERR_SANDBOX'), false);
    scope.release(from);
    return outcome;
  }

  if (scope.disposed) return closed();
  const candidate = link.start(scope, to, snapshot);
  scope.propose(candidate);
  try {
    // A stub may report `live` from inside `activate`, before its handle exists: wait for both.
    const [handle] = await within(
      Promise.all([candidate.started, live(scope, candidate)]),
      deadline,
      timeoutMs,
      `${labelOf(to)} going live`,
    );
    scope.attach(candidate, handle);
  } catch (err) {
    const cause = asProtoflyError(err, 'PF_ERR_SANDBOX');
    // Not live in time, and neither is the old one: the server is away, not the new version broken.
    const unreachable = cause.code === 'PF_ERR_SWAP' && from.status !== 'live' && !ended(candidate);
    const outcome = failure(cause, !unreachable, unreachable);
    await link.stop(candidate);
    await rollBack(scope, from, snapshot, link);
    for (const msg of scope.unpark()) link.deliver(to, msg);
    return outcome;
  }
  // Closed meanwhile: its disposal stops both instances.
  if (scope.disposed) return closed();

  const held = scope.held;
  scope.release(candidate);
  const heldMs = performance.now() - begun;
  const retired = link.stop(from).then(() => {
    for (const msg of scope.unpark()) link.deliver(to, msg);
  });
  return { ok: true, held, heldMs, newVersionFailed: false, retired };
}

/**
 * The old instance carries the conversation again and takes what was held. If it ended
 * meanwhile, an instance of its version started from the snapshot does; if even that one
 * cannot start, the conversation fails (its status says so) and the held requests are answered.
 */
async function rollBack(
  scope: ConversationScope,
  from: Activation,
  snapshot: unknown,
  link: SwapLink,
): Promise<void> {
  if (!ended(from) || scope.disposed) return scope.release(from);
  const revived = link.start(scope, from.pkg, snapshot);
  try {
    revived.handle = await revived.started;
  } catch {
    revived.status = 'failed';
  }
  void link.stop(from);
  if (!scope.disposed) scope.release(revived);
}

function ended(instance: Activation): boolean {
  return instance.status === 'failed' || instance.status === 'stopped';
}

/** Resolves when `candidate` reports `live`; rejects when its activation fails or it reports `failed` or `stopped`. */
function live(scope: ConversationScope, candidate: Activation): Promise<void> {
  return new Promise((resolve, reject) => {
    if (candidate.status === 'live') return resolve();
    scope.onCandidateStatus = (status, detail) => {
      if (status === 'live') resolve();
      else if (status === 'failed' || status === 'stopped') {
        // The host's reason when it gave one (PF_ERR_MEMORY, PF_ERR_WATCHDOG...).
        reject(
          candidate.failure ??
            new ProtoflyError(
              'PF_ERR_SANDBOX',
              `${labelOf(candidate.pkg)} ${status}: ${detail ?? ''}`.trim(),
            ),
        );
      }
    };
    candidate.started.catch(reject);
  });
}

/** `promise`, or a `PF_ERR_SWAP` rejection once `deadline` (performance.now()) of a `timeoutMs` swap passes. */
function within<T>(promise: Promise<T>, deadline: number, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    const why = `${what} did not happen within the swap time-out of ${timeoutMs} ms`;
    timer = setTimeout(
      () => reject(new ProtoflyError('PF_ERR_SWAP', why)),
      Math.max(0, deadline - performance.now()),
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
