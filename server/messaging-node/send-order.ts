import type { ErrorCode } from '../../core/errors.js';

/** A session's messages to one recipient that are still on their way, and where they went. */
export interface Lane {
  /** The sessions they went to (ids, space-separated); empty when held, or refused before a lookup answered. */
  readonly targets: string;
  /** Settles when a message to the same sessions may be sent. */
  readonly issue: Promise<void>;
  /** Settles when every one of them is delivered, held or refused. */
  readonly settled: Promise<void>;
}

/** A run of refusals to one recipient: the message that began it, refused to be sent again, and its retryable code. */
export interface RefusalRun {
  readonly id: string;
  readonly code: ErrorCode;
}

/**
 * What keeps one session's messages in the order its client sent them; routing's state for
 * that session (see routing.ts), written by nothing else. Six things can reorder them: a
 * message waiting for a hyperty address to be claimed, lookups of one recipient answering out
 * of order (a cached answer is at once, and a Redis Cluster's client retries a command during
 * a failover on its own timer), messages to one recipient settling out of order (lanes), a
 * client sending again only some of the messages refused to be sent again (runs of refusals), and
 * a later message delivered to the recipient's session on another node before the held ones
 * reached it (held first: the held ones and the later one travel different ways), and a later
 * message reaching sessions an earlier one missed while that one is still being held or refused
 * (misses).
 */
export class SendOrder {
  #queue: Promise<void> | undefined;
  /** Per recipient, this session's messages still on their way. */
  readonly #lanes = new Map<string, Lane>();
  /**
   * Per recipient, the message of this session refused to be sent again (its rate, a store
   * failing over: a retryable code): later ones to that recipient are refused too, until this
   * one is sent again, so that retries keep the order.
   */
  #refusedTo: Map<string, RefusalRun> | undefined;
  /**
   * Recipients some of this session's messages to were held instead of delivered, until a
   * session of theirs on another node took what was held (before a later message). As many as
   * the recipients this session wrote to while they were away, and gone with the session.
   */
  #heldTo: Set<string> | undefined;
  /**
   * Per recipient, the sessions (a lane's targets) that a message of this session did not
   * reach, and how many messages to them are settling since: later ones to them are not
   * delivered either until those settled, but held after them (or refused with them), so that
   * none overtakes one that is held or refused to be sent again.
   */
  #missed: Map<string, { targets: string; settling: number }> | undefined;

  /**
   * A hyperty address this session sends from being claimed: later messages wait behind it,
   * since whether they may be sent depends on it.
   */
  get queue(): Promise<void> | undefined {
    return this.#queue;
  }

  /** Later messages wait for `waiting`; `fail` ends its chain (it never rejects past it). */
  wait(waiting: Promise<void>, fail: (err: unknown) => void): void {
    const tail = waiting.catch(fail);
    this.#queue = tail;
    void tail.then(() => {
      if (this.#queue === tail) this.#queue = undefined;
    });
  }

  /**
   * Per recipient, the last of this session's messages whose recipient is being looked up:
   * settles once it was dispatched (or refused).
   */
  readonly #lookups = new Map<string, Promise<void>>();

  /** The lookup for an earlier message to `to` still on its way, if any. */
  lookingUp(to: string): Promise<void> | undefined {
    return this.#lookups.get(to);
  }

  /** A message to `to` is dispatched once `step` settles (it never rejects): later ones wait for it. */
  lookup(to: string, step: Promise<void>): void {
    this.#lookups.set(to, step);
    void step.then(() => {
      if (this.#lookups.get(to) === step) this.#lookups.delete(to);
    });
  }

  /** The messages to `to` still on their way, if any. */
  lane(to: string): Lane | undefined {
    return this.#lanes.get(to);
  }

  /**
   * Adds to the lane to `to` a message that went to `targets`: the next one to the same
   * targets may go once `issue` settled; `done` settles with this one. The lane ends once all
   * of it settled.
   */
  extend(
    to: string,
    targets: string,
    issue: Promise<void>,
    done: Promise<void>,
    fail: (err: unknown) => void,
  ): void {
    const before = this.#lanes.get(to);
    const lane = {
      targets,
      issue,
      settled: before ? Promise.all([before.settled, done]).then(() => {}) : done,
    };
    this.#lanes.set(to, lane);
    lane.settled
      .then(() => {
        if (this.#lanes.get(to) === lane) this.#lanes.delete(to);
      })
      .catch(fail);
  }

  /** A message to `to` was held: later ones delivered to another node ask for the held ones first. */
  held(to: string): void {
    this.#heldTo ??= new Set();
    this.#heldTo.add(to);
  }

  /** Whether messages to `to` were held since a session of it last took what was held. */
  wasHeld(to: string): boolean {
    return this.#heldTo?.has(to) ?? false;
  }

  /** A session of `to` took what was held for it, before a later message. */
  heldTaken(to: string): void {
    this.#heldTo?.delete(to);
  }

  /** The targets that messages to `to` are not delivered to until what missed them settled, if any. */
  missing(to: string): string | undefined {
    return this.#missed?.get(to)?.targets;
  }

  /** A message to `to` did not reach `targets`, or was not sent to them for that: it settles before they are tried again. */
  miss(to: string, targets: string): void {
    const gate = this.#missed?.get(to);
    if (gate?.targets === targets) {
      gate.settling++;
      return;
    }
    this.#missed ??= new Map();
    this.#missed.set(to, { targets, settling: 1 });
  }

  /** A message {@link miss} counted settled (held, or refused). */
  missSettled(to: string): void {
    const gate = this.#missed?.get(to);
    if (gate && --gate.settling === 0) this.#missed!.delete(to);
  }

  /** The refusal to send again that a later message to `to` must wait for, if any. */
  refused(to: string): RefusalRun | undefined {
    return this.#refusedTo?.get(to);
  }

  /** The refused message to `to` was sent again: the run of refusals to `to` ends. */
  resent(to: string): void {
    this.#refusedTo?.delete(to);
  }

  /** Recipients with a run of refusals. */
  get runs(): number {
    return this.#refusedTo?.size ?? 0;
  }

  /**
   * Message `id` to `to` was refused with `code`, to be sent again: later ones to `to` are
   * refused too until it comes again.
   */
  startRun(to: string, id: string, code: ErrorCode): void {
    this.#refusedTo ??= new Map();
    this.#refusedTo.set(to, { id, code });
  }
}
