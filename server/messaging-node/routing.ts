// Over 400 lines, for one thing: a message's way from its sender's session to its recipient's,
// with the order of its lane kept at each step (policy, lookup, delivery here or elsewhere,
// hold). The steps hand the same message and lane on, so they stay in one class.
import { asProtoflyError, isRetryable, ProtoflyError } from '../../core/errors.js';
import type { Message, ResponseMessage } from '../../core/generated/types.js';
import { validateGroupMembersBody } from '../../core/generated/validators.js';
import { schemaError } from '../../core/validate.js';
import { capabilityOf, UNKNOWN_RECIPIENT_RULE } from '../policy/compile.js';
import type { Binding, Frame, Taken } from '../services/service.js';
import type { ClientSession } from './client-session.js';
import type { Directory } from './directory.js';
import { msgFrame } from './frames.js';
import type { Groups } from './groups.js';
import type { Holds } from './holds.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeSettings } from './options.js';
import type { Presence } from './presence.js';
import type { Replies } from './replies.js';

/** Recipients one session may have refused messages waiting to be sent again to (see #route). */
const MAX_REFUSED_RUNS = 1024;

/**
 * Routing: an authenticated session's messages to their recipients. Every message whose `from`
 * is neither the session's user address nor a hyperty address it holds (or may claim) is
 * refused (PF_ERR_SPOOF). The recipient's sessions are found through the domain's Location
 * service and reached here or, through its Cluster service, on other nodes; a message is
 * acknowledged once a session has it or the cluster holds it for the recipient (holds.ts),
 * and its session's messages keep their order throughout (SendOrder). Messages to
 * `domain://msg-node.<domain>/group/<name>` go to the group's other subscribers, on any node
 * (groups.ts); requests to `domain://msg-node.<domain>/directory` are answered from the address
 * book (directory.ts).
 *
 * The domain's policy (server/policy) decides every message to a user:// or hyperty:// address
 * before it is delivered: a `deny` is refused with PF_ERR_FORBIDDEN (the app's request gets
 * 403), a rule's rate gone over with PF_ERR_FLOOD like the node's own rate (its run of
 * refusals keeps the order; json-ws sends them again after a pause). A user:// recipient is
 * decided before it is looked up; a hyperty:// one, when the rules name recipient users, after,
 * as the user whose session holds it (else a sender who knows a user's hyperty address would get
 * past a rule on that user), and refused when no session holds it (its user is not known).
 *
 * A service failing on a message's way (its lookup, delivery or hold: Redis failing over) refuses
 * it with PF_ERR_UNAVAILABLE, which asks to send it again, in a run like a rate's.
 *
 * A session whose socket holds more than `maxBufferedBytes` unsent, or more than
 * `maxUnreceived` messages its client has not said it took, is a slow consumer: told, dropped
 * (1013), and what was bound for it is held for its user, so the others are not slowed and
 * nothing acknowledged is lost.
 */
export class Routing {
  readonly #settings: NodeSettings;
  readonly #metrics: NodeMetrics;
  readonly #replies: Replies;
  readonly #holds: Holds;
  readonly #groups: Groups;
  readonly #presence: Presence;
  /** Every open connection of this node, by session id (admission's, read here). */
  readonly #sessions: ReadonlyMap<string, ClientSession>;
  readonly #groupPrefix: string;
  /** Per session, the answer to its last message to a group, while it is not sent. */
  readonly #groupAnswers = new WeakMap<ClientSession, Promise<void>>();
  readonly #directory: Directory | undefined;

  constructor(
    settings: NodeSettings,
    replies: Replies,
    holds: Holds,
    groups: Groups,
    presence: Presence,
    sessions: ReadonlyMap<string, ClientSession>,
    groupPrefix: string,
    directory: Directory | undefined,
  ) {
    this.#settings = settings;
    this.#metrics = replies.metrics;
    this.#replies = replies;
    this.#holds = holds;
    this.#groups = groups;
    this.#presence = presence;
    this.#sessions = sessions;
    this.#groupPrefix = groupPrefix;
    this.#directory = directory;
  }

  /** A `msg` frame of an authenticated session: routed behind a message still waiting on a claim. */
  receive(session: ClientSession, m: Message): void {
    const order = session.order;
    // Behind a message still waiting on a service, or on its own when it has to wait.
    const waiting = order.queue ? order.queue.then(() => this.#route(session, m)) : this.#route(session, m);
    if (waiting) order.wait(waiting, session.fail);
  }

  /**
   * Gives a `msg` frame to the session `id` of this node (asked by this node or another one
   * through the cluster, which passes `taken`: see ClusterMember.deliver); false when it did
   * not take it.
   */
  deliverHere(id: string, frame: Frame, taken?: Taken, heldFirst?: string): boolean {
    const session = this.#sessions.get(id);
    if (!session?.address) return false;
    try {
      return this.#deliverTo(session, frame, taken, heldFirst);
    } catch (err) {
      session.fail(err);
      return false;
    }
  }

  /**
   * Routes one message: the sender checks, then the recipient's sessions through Location,
   * here or on other nodes. Returns a promise only when the session's later messages must wait
   * for it (a hyperty address being claimed); it never rejects.
   */
  #route(session: ClientSession, m: Message): Promise<void> | undefined {
    if (!session.open) return;
    if (this.#outOfTurn(session, m)) return;
    if (!session.bucket.take(performance.now())) {
      const { messagesPerSecond } = this.#settings;
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `${session.address} is over ${messagesPerSecond} messages/s; message ${m.id} refused`,
        { limit: messagesPerSecond },
      );
      return this.#refuseToRetry(session, m, err);
    }
    // The refused message that began a run, sent again: the run ends.
    if (session.order.refused(m.to)) session.order.resent(m.to);
    if (m.from !== session.address && !session.hyperties.has(m.from)) {
      if (!m.from.startsWith('hyperty://')) return this.#replies.refuse(session, spoof(session, m), m.id);
      return this.#presence.claim(session, m.from).then(
        async (claimed) => {
          if (!claimed) return this.#replies.refuse(session, spoof(session, m), m.id);
          await this.#holds.takeHeld(session, [m.from]);
          this.#forward(session, m);
        },
        (err) => this.#failed(session, m, err, 'claiming'),
      );
    }
    this.#forward(session, m);
  }

  /**
   * Refuses `m` when a message its session sent before it to the same recipient was refused to
   * be sent again and has not come again: taken now, `m` would overtake it. Refused with that
   * one's code, so that the client sends `m` again too, after it.
   */
  #outOfTurn(session: ClientSession, m: Message): boolean {
    const run = session.order.refused(m.to);
    if (!run || run.id === m.id) return false;
    const err = new ProtoflyError(
      run.code,
      `message ${m.id} refused to keep order: ${run.id}, sent to ${m.to} before it, was refused (${run.code}); send ${run.id} again first`,
      { refused: run.id },
    );
    this.#replies.refuse(session, err, m.id);
    return true;
  }

  /** A service failed on `m`'s way: refused, to be sent again when the failure passes. */
  #failed(session: ClientSession, m: Message, err: unknown, doing: string): undefined {
    return this.#refuseToRetry(session, m, this.#replies.failure(session, err, doing, m.id));
  }

  /**
   * Refuses `m` with `err`. A refusal to send again (a rate, a store failing over: a
   * retryable code) starts a run of refusals to `m`'s recipient, so that a client sending them
   * again in order keeps its order: what it sent after `m` to the same recipient is refused too
   * until `m` comes again.
   */
  #refuseToRetry(session: ClientSession, m: Message, err: ProtoflyError): undefined {
    const order = session.order;
    // Not to be sent again, or after the one that began the run (settled in order): no new run.
    if (!isRetryable(err.code) || order.refused(m.to)) return this.#replies.refuse(session, err, m.id);
    if (order.runs >= MAX_REFUSED_RUNS) {
      // Order cannot be kept for one more recipient: fail closed rather than keep without bound.
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `refused messages to ${order.runs} recipients are waiting to be sent again, the limit; reconnect`,
        { limit: MAX_REFUSED_RUNS },
      );
      this.#replies.refuse(session, err, m.id);
      session.cut('PF_ERR_FLOOD');
      return;
    }
    order.startRun(m.to, m.id, err.code);
    return this.#replies.refuse(session, err, m.id);
  }

  /**
   * The policy's decision on `m` to the user `to` (`m.to`, or the user a hyperty recipient
   * belongs to): undefined when allowed, else `m` refused.
   */
  #policed(session: ClientSession, m: Message, to: string): undefined | true {
    const from = session.address!;
    const capability = capabilityOf(m);
    const d = this.#settings.policy.decide(from, to, capability);
    if (d.allowed) return;
    if (d.code === 'PF_ERR_FLOOD') {
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `${from} is over the rate of policy rule '${d.rule}' (${d.limit} messages/s); message ${m.id} refused`,
        { limit: d.limit, rule: d.rule },
      );
      this.#refuseToRetry(session, m, err);
      return true;
    }
    const what = capability ? ` with ${capability}` : '';
    const why =
      d.rule === UNKNOWN_RECIPIENT_RULE
        ? 'no session holds it, so its user is not known, and the policy rules name recipient users'
        : `refused by policy rule '${d.rule}'`;
    const err = new ProtoflyError('PF_ERR_FORBIDDEN', `${from} may not reach ${m.to}${what}: ${why}`, {
      rule: d.rule,
      to: m.to,
    });
    this.#replies.refuse(session, err, m.id);
    return true;
  }

  /** Looks the recipient up; messages to one recipient are dispatched in the order sent, whatever order their lookups answer in. */
  #forward(session: ClientSession, m: Message): void {
    if (m.to.startsWith(this.#groupPrefix)) return this.#toGroup(session, m);
    if (m.to === this.#directory?.address) return this.#ask(session, m);
    if (!m.to.startsWith('user://') && !m.to.startsWith('hyperty://')) {
      const err = new ProtoflyError(
        'PF_ERR_NO_ROUTE',
        `${m.to}: a node routes user://, hyperty:// and ${this.#groupPrefix}<name> addresses`,
        { to: m.to },
      );
      return this.#replies.refuse(session, err, m.id);
    }
    // A hyperty recipient is decided as its user, known once it is looked up.
    const byOwner = this.#settings.policy.namesRecipients && m.to.startsWith('hyperty://');
    if (!byOwner && this.#policed(session, m, m.to)) return;
    let found: ReturnType<NodeSettings['location']['lookup']>;
    try {
      found = this.#settings.location.lookup(m.to);
    } catch (err) {
      return this.#notFound(session, m, err);
    }
    const order = session.order;
    const before = order.lookingUp(m.to);
    if (Array.isArray(found) && !before) return this.#found(session, m, found, byOwner);
    // An earlier message to the same recipient is still being looked up: this one waits for it,
    // even when its own answer came first (from the cache, or a command retried sooner).
    const looked = Promise.resolve(found);
    const step = (before ? before.then(() => looked) : looked).then(
      (bindings) => this.#found(session, m, bindings, byOwner),
      (err) => this.#notFound(session, m, err),
    );
    const settled = step.catch(session.fail);
    order.lookup(m.to, settled);
  }

  /**
   * `m`'s recipient could not be looked up: refused in its turn in the lane to its recipient,
   * once what was sent before it settled, so that a run of refusals begins with the first one
   * sent (one before it may yet fail to be held) and what comes after waits for it.
   */
  #notFound(session: ClientSession, m: Message, err: unknown): void {
    const order = session.order;
    const lane = order.lane(m.to);
    if (!lane) return this.#failed(session, m, err, 'looking up');
    const refused = lane.settled.then(() => this.#failed(session, m, err, 'looking up'));
    order.extend(m.to, '', lane.settled, refused, session.fail);
  }

  /**
   * The recipient's bindings found: `m` decided by the policy as their owner first when
   * `byOwner` (without a binding the hyperty address stays, which the policy refuses), then sent.
   */
  #found(session: ClientSession, m: Message, bindings: readonly Binding[], byOwner: boolean): void {
    if (byOwner && this.#policed(session, m, bindings[0]?.owner ?? m.to)) return;
    this.#dispatch(session, m, bindings);
  }

  /**
   * Sends `m` on its way. Messages of a session to one recipient form a lane: one goes out at
   * once when the ones before it went to the same sessions (it cannot overtake them there),
   * and is settled (acknowledged, or held when not delivered) after them, so held messages
   * keep their order; one bound elsewhere waits until they all settled, so it never
   * overtakes one of them that ends up held.
   */
  #dispatch(session: ClientSession, m: Message, bindings: readonly Binding[]): void {
    const targets = m.to.startsWith('hyperty://') ? bindings.slice(0, 1) : bindings;
    const order = session.order;
    const lane = order.lane(m.to);
    if (!lane) {
      const done = this.#deliver(session, m, targets);
      if (done) order.extend(m.to, laneKey(targets), Promise.resolve(), done, session.fail);
      return;
    }
    const key = laneKey(targets);
    if (lane.targets === key) {
      const after = lane.settled;
      order.extend(
        m.to,
        key,
        lane.issue,
        lane.issue.then(() => this.#deliver(session, m, targets, after)),
        session.fail,
      );
    } else {
      order.extend(
        m.to,
        key,
        lane.settled,
        lane.settled.then(() => this.#deliver(session, m, targets)),
        session.fail,
      );
    }
  }

  /**
   * Gives `m` to the sessions `targets` (here, or through the cluster), then, once `after`
   * settled too, acknowledges it if any took it, else holds it. Synchronous when every target
   * is here and nothing is to be waited for.
   */
  #deliver(
    session: ClientSession,
    m: Message,
    targets: readonly Binding[],
    after?: Promise<void>,
  ): Promise<void> | undefined {
    // A run of refusals to the recipient began while `m` waited (for its lookup, or for a lane
    // that went elsewhere): it goes again after the refused one.
    if (this.#outOfTurn(session, m)) return;
    const { cluster } = this.#settings;
    const order = session.order;
    const frame = msgFrame(m);
    // Earlier messages to the recipient were held: a session elsewhere takes them before this one.
    const heldFirst = order.wasHeld(m.to) ? m.to : undefined;
    // An earlier message to the same sessions did not reach them and is settling: `m` is not
    // tried either (a later batch could reach them), but settled after it.
    const missing = order.missing(m.to);
    let missed = missing !== undefined && missing === laneKey(targets);
    let delivered = 0;
    let remote: Promise<boolean>[] | undefined;
    for (const binding of missed ? [] : targets) {
      if (binding.node !== cluster.node) {
        remote ??= [];
        remote.push(cluster.deliver(binding.node, binding.session, frame, heldFirst));
      } else if (this.deliverHere(binding.session, frame)) {
        delivered++;
      }
    }
    /** Whether `more` deliveries elsewhere and those here reached nobody: later ones to the same sessions wait for `m`. */
    const reached = (more: number) => {
      if (delivered + more === 0 && !missed) {
        missed = true;
        order.miss(m.to, laneKey(targets));
      }
      return more;
    };
    if (missed) order.miss(m.to, laneKey(targets));
    else if (!remote) reached(0);
    const settled = () => {
      if (missed) order.missSettled(m.to);
    };
    const settle = (more: number): Promise<void> | undefined => {
      if (heldFirst && more) order.heldTaken(m.to);
      if (delivered + more) return this.#replies.accepted(session, m);
      // A message before it in its lane was refused to be sent again: held now, `m` would be ahead of it.
      if (this.#outOfTurn(session, m)) {
        settled();
        return;
      }
      order.held(m.to);
      return this.#holds
        .holdFor(m, frame)
        .then(
          () => this.#replies.accepted(session, m),
          (err) => this.#failed(session, m, err, 'holding'),
        )
        .finally(settled);
    };
    if (!remote && !after) return settle(0);
    const failed = (err: unknown) => {
      settled();
      this.#failed(session, m, err, 'delivering');
    };
    // The common cross-node case, one session elsewhere and nothing before it: one promise.
    if (remote?.length === 1 && !after) return remote[0]!.then((ok) => settle(reached(ok ? 1 : 0)), failed);
    const results = remote
      ? Promise.all(remote).then((oks) => reached(oks.filter(Boolean).length))
      : Promise.resolve(0);
    return Promise.all([results, after]).then(([more]) => settle(more), failed);
  }

  /**
   * Gives a `msg` frame to one of this node's sessions, after what is held for `heldFirst` when
   * given (an address of the session's); false when it did not take it.
   */
  #deliverTo(session: ClientSession, frame: Frame, taken?: Taken, heldFirst?: string): boolean {
    if (!session.open) {
      // Going (its close event may come later): what it had not taken is held before this.
      this.#holds.holdAgain(session.takeUnreceived());
      return false;
    }
    if (
      session.ws.bufferedAmount > this.#settings.maxBufferedBytes ||
      (session.unreceived?.length ?? 0) >= this.#settings.maxUnreceived
    ) {
      return this.#dropSlow(session);
    }
    if (heldFirst && (heldFirst === session.address || session.hyperties.has(heldFirst))) {
      this.#holds.takeHeldNow(session, heldFirst);
    }
    session.deliver(frame, taken);
    this.#metrics.messagesOut++;
    return true;
  }

  /**
   * A message to a group: `subscribe` joins, `unsubscribe` leaves, an update with a `members`
   * body from the owner changes who may join, anything else from a subscriber goes to every
   * other one, on any node, encoded once. The decisions are the cluster's (groups.ts), asked in
   * the order the session sent them, so that a message sent after subscribing finds it subscribed.
   */
  #toGroup(session: ClientSession, m: Message): undefined {
    const group = m.to;
    let decided: Promise<ProtoflyError | undefined>;
    if (m.type === 'subscribe') decided = this.#groups.join(session, group);
    else if (m.type === 'unsubscribe') decided = this.#groups.leave(session, group).then(() => undefined);
    else if (m.type === 'update' && (m.body.value as { kind?: unknown } | null)?.kind === 'members') {
      const body = m.body.value;
      if (!validateGroupMembersBody(body)) {
        const err = schemaError('members body', validateGroupMembersBody.errors ?? []);
        return this.#replies.refuse(session, err, m.id);
      }
      decided = this.#groups.members(session, group, body);
    } else {
      decided = this.#groups.send(session, group, msgFrame(m));
    }
    // Answered in the order sent, whichever decision came first (one refused here, at once).
    const before = this.#groupAnswers.get(session);
    const answered = (before ? before.then(() => decided) : decided)
      .then(
        (refused) =>
          refused ? this.#replies.refuse(session, refused, m.id) : this.#replies.accepted(session, m),
        (err) => this.#failed(session, m, err, 'group'),
      )
      .catch(session.fail);
    this.#groupAnswers.set(session, answered);
    void answered.then(() => {
      if (this.#groupAnswers.get(session) === answered) this.#groupAnswers.delete(session);
    });
  }

  /** A request to the directory: acknowledged, then answered to the session that asked, or refused. */
  #ask(session: ClientSession, m: Message): undefined {
    let answer: ResponseMessage;
    try {
      answer = this.#directory!.answer(m, session.address!);
    } catch (err) {
      // In memory: an uncoded failure is a fault of ours, not a store's to wait out.
      return this.#replies.refuse(
        session,
        asProtoflyError(err, 'PF_ERR_INTERNAL', 'searching the directory'),
        m.id,
      );
    }
    this.#replies.accepted(session, m);
    // The ack first: a client settles its request's delivery before its answer comes.
    session.flushAcks();
    this.#deliverTo(session, msgFrame(answer));
    return undefined;
  }

  /** Tells a slow consumer and drops it; returns false: the frame was not delivered to it. */
  #dropSlow(session: ClientSession): false {
    const bytes = session.ws.bufferedAmount;
    const unreceived = session.unreceived?.length ?? 0;
    const { maxBufferedBytes, maxUnreceived } = this.#settings;
    const err = new ProtoflyError(
      'PF_ERR_FLOOD',
      `slow consumer: ${bytes} bytes unsent (bound ${maxBufferedBytes}), ${unreceived} messages not received (bound ${maxUnreceived}); reconnect to get what is held`,
      { buffered: bytes, unreceived },
    );
    this.#replies.refuse(session, err);
    // Closing waits for the buffer to drain; a consumer that does not read must not hold it.
    // (A session routed to has authenticated: it holds no slot of admission's to give back.)
    session.cut('PF_ERR_FLOOD', 'PF_ERR_FLOOD slow consumer');
    // Held now (closing, it takes none back), before the frame that found it slow.
    this.#holds.holdAgain(session.takeUnreceived());
    return false;
  }
}

/** What a lane's messages went to: the sessions (ids unique in the domain), or none (held). */
function laneKey(targets: readonly Binding[]): string {
  return targets.map((r) => r.session).join(' ');
}

function spoof(session: ClientSession, m: Message): ProtoflyError {
  return new ProtoflyError('PF_ERR_SPOOF', `${session.address} may not send as ${m.from}`, { from: m.from });
}
