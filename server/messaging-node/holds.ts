import { isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Message, MsgFrame } from '../../core/generated/types.js';
import type { Frame, HoldLimits } from '../services/service.js';
import type { ClientSession, Untaken } from './client-session.js';
import type { NodeSettings } from './options.js';
import type { Outstanding } from './outstanding.js';
import type { Replies } from './replies.js';

/**
 * Held messages, catch-up and receipts. A message no session took is held for its recipient
 * by the domain's Cluster service (within offlineMessages per address and offlineTtlSeconds) and
 * acknowledged once held. A session takes what was held for its addresses when it authenticates
 * or claims a hyperty address, or at once when frames are held for an address it holds (a
 * session that registered meanwhile): whatever reaches it meanwhile waits behind them, so held
 * messages keep their order. What a session's client did not take (receipts on, or waiting
 * behind held frames) when its connection ends is held again.
 */
export class Holds {
  readonly #settings: NodeSettings;
  readonly #replies: Replies;
  readonly #outstanding: Outstanding;
  readonly #limits: HoldLimits;
  /** Group updates are live only: not held again. */
  readonly #groupPrefix: string;
  /**
   * This node's own sessions by the addresses they hold. Routing goes through Location; this
   * is for what must happen at once, without a round trip: a session that frames were just
   * held for starts catching up before the next frame for it can arrive.
   */
  readonly #holders = new Map<string, Set<ClientSession>>();

  constructor(settings: NodeSettings, replies: Replies, outstanding: Outstanding, groupPrefix: string) {
    this.#settings = settings;
    this.#replies = replies;
    this.#outstanding = outstanding;
    this.#limits = { perAddress: settings.offlineMessages, ttlMs: settings.offlineTtlSeconds * 1000 };
    this.#groupPrefix = groupPrefix;
  }

  /**
   * Holds `m` (encoded as `frame`), which no session took; rejects when the cluster does not
   * hold it (the recipient's bound, a store failing).
   */
  holdFor(m: Message, frame: Frame): Promise<void> {
    return this.#settings.cluster.hold(m.to, frame, this.#limits).then(() => {
      this.#replies.metrics.stored++;
      // A session of the recipient here (one that registered meanwhile) takes it before the
      // sender's next message can reach it.
      this.takeHeldFor(m.to);
    });
  }

  /**
   * Sends what was held for `addresses` to `session`, then what arrived for it meanwhile. When
   * the held frames cannot be taken out (the store failing over past its client's patience), the
   * session is cut (PF_ERR_STORAGE, 1011): going on would give it later frames before the held
   * ones and leave those until it next connects; its client reconnects and takes them then, and
   * what waited behind them is held again after them.
   */
  async takeHeld(session: ClientSession, addresses: readonly string[]): Promise<void> {
    const { cluster } = this.#settings;
    session.catchUp();
    try {
      for (const address of addresses) {
        const frames = await cluster.release(address);
        if (!session.open) {
          // Gone meanwhile: hold them again for the next session.
          for (const f of frames) await cluster.hold(address, f, this.#limits);
          continue;
        }
        for (const f of frames) session.sendMsg(f);
        this.#replies.metrics.messagesOut += frames.length;
      }
    } catch (err) {
      if (session.open) session.cut('PF_ERR_STORAGE', 'PF_ERR_STORAGE held messages not read; reconnect');
      throw err;
    } finally {
      this.caughtUp(session);
    }
  }

  /** One taking-out for `session` ended (see ClientSession.catchUp): the last one sends what waited. */
  caughtUp(session: ClientSession): void {
    const deferred = session.caughtUp();
    if (!deferred) return;
    if (session.open) for (const d of deferred) session.sendMsg(d.frame, d.taken);
    else this.holdAgain(deferred);
  }

  /** Frames were held for `address`: its newest session here, if any, takes them now. */
  takeHeldFor(address: string): void {
    const holders = [...(this.#holders.get(address) ?? [])].filter((s) => s.open);
    const newest = holders.at(-1);
    if (newest) this.takeHeldNow(newest, address);
  }

  /**
   * `session` takes what is held for `address` now: what reaches it from here on waits behind
   * (another node asks this before a frame that must not overtake them: Cluster.deliver's `heldFirst`).
   */
  takeHeldNow(session: ClientSession, address: string): void {
    this.takeHeld(session, [address]).catch((err: Error) =>
      this.#settings.log.warn({ address, err: err.message }, 'held frames not taken'),
    );
  }

  /** `session` holds `address` (it registered it): frames held for it are taken at once. */
  addHolder(address: string, session: ClientSession): void {
    const set = this.#holders.get(address);
    if (set) set.add(session);
    else this.#holders.set(address, new Set([session]));
  }

  /** `session`'s connection ended: it holds nothing, and what its client did not take is held again. */
  closed(session: ClientSession): void {
    for (const a of [session.address!, ...session.hyperties]) {
      const set = this.#holders.get(a);
      set?.delete(session);
      if (set?.size === 0) this.#holders.delete(a);
    }
    this.holdAgain(session.takeUnreceived());
  }

  /** A `received` frame: the client took its first `n` `msg` frames; refused when `n` does not fit. */
  receipt(session: ClientSession, n: number): void {
    if (session.receipt(n)) return;
    const err = session.unreceived
      ? new ProtoflyError(
          'PF_ERR_FRAME',
          `received ${n}: ${session.received} msg frames were taken before, and ${session.unreceived.length} sent since`,
        )
      : new ProtoflyError(
          'PF_ERR_FRAME',
          "a 'received' frame from a session that did not ask for receipts in auth",
        );
    this.#replies.refuse(session, err);
  }

  /**
   * Holds again, for their recipients, `msg` frames that a session's client will not take: those
   * a client with receipts had not said it took when its connection ended (XEP-0198 §4's
   * unacknowledged stanzas), and those that waited behind held ones when it ended. Their senders
   * had their acks: without this, a client that vanished (a crash, a cut network) would lose
   * what was on its way to it. The holds are issued at once and in order, so that what arrives
   * for the recipient later is held after them. The client may have taken some and not said so
   * yet; its stub drops those as duplicates. Group updates are live only and are not held. A
   * frame another node delivered is confirmed to it once held (or not, when it could not be):
   * that node holds back the sender's later messages to the recipient until then.
   */
  holdAgain(frames: readonly Untaken[]): void {
    const { cluster, log } = this.#settings;
    const { metrics } = this.#replies;
    const holds: Promise<void>[] = [];
    for (const { frame, taken } of frames) {
      const { m } = JSON.parse(typeof frame === 'string' ? frame : Buffer.from(frame).toString()) as MsgFrame;
      if (m.to.startsWith(this.#groupPrefix)) continue;
      holds.push(
        cluster.hold(m.to, frame, this.#limits).then(
          () => {
            metrics.stored++;
            taken?.(true);
          },
          (err: Error) => {
            taken?.(false);
            const code = isProtoflyError(err) ? err.code : 'PF_ERR_DELIVERY';
            metrics.refuse(code);
            log.warn(
              { to: m.to, id: m.id, code, err: err.message },
              'a message its recipient had not taken could not be held again',
            );
          },
        ),
      );
    }
    if (holds.length) this.#outstanding.track(Promise.all(holds).then(() => {}));
  }
}
