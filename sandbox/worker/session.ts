import type { ProtoflyError } from '../../core/errors.js';
import type { SocketDelegate, StubSession } from '../../core/stub.js';
import type { EntryPoint } from '../channel.js';
import { Credit } from '../credit.js';
import { describeError } from './describe.js';
import { guard } from './guard.js';
import type { WorkerInstance } from './instance.js';

/** A WebSocket the host holds for a stub, seen from the worker. */
export interface WorkerSocket {
  readonly sock: number;
  readonly session: WorkerSession;
  /** The instance that opened it: its delegate's exceptions fail that instance, or once it ended, are the session's. */
  readonly opener: WorkerInstance;
  readonly delegate: SocketDelegate;
  state: 'connecting' | 'open' | 'closed';
}

/**
 * The worker side of a stub session (what the instances of one stub share per package, domain
 * and identity; the host side is sandbox/session.ts): the `ctx.session` store, the sockets
 * they opened (a socket lives as long as its session, so one connection can serve many
 * conversations), the timers of instances that failed, and the session's credit in both
 * directions.
 *
 * One instance's end touches no other's timers, sockets or routing: it leaves the session at
 * once, and what it left there (timers, sockets, the delegates on them) goes on while another
 * instance lives. Nobody answers for those any more: one that throws is reported through
 * the oldest live instance's log and, for a timer, cleared.
 */
export class WorkerSession {
  readonly #store = new Map<string, unknown>();
  /** The stub's view of the store; hardened once, shared by every instance of the session. */
  readonly api: StubSession;
  /** Worker → host frames. */
  readonly out: Credit;
  /** Host → worker frames, acknowledged as processed. */
  readonly in: Credit;
  readonly sockets = new Map<number, WorkerSocket>();
  /** The instances running on it, oldest first. */
  readonly instances = new Set<WorkerInstance>();
  /** Timers the session took over from instances that ended, by id. */
  readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  /**
   * The refusal of the current flood episode, once reported to the host: thrown again for
   * every attempt until the next ack ends the episode.
   */
  flood: ProtoflyError | undefined;

  constructor(
    readonly id: number,
    windowBytes: number,
    harden: <T>(value: T) => T,
  ) {
    this.out = new Credit(windowBytes);
    this.in = new Credit(windowBytes);
    const store = this.#store;
    this.api = harden({
      get: (key: string) => store.get(String(key)),
      set: (key: string, value: unknown) => {
        store.set(String(key), value);
      },
      delete: (key: string) => {
        store.delete(String(key));
      },
    });
  }

  /** The oldest instance running on the session: it acts for the ones that ended. */
  get steward(): WorkerInstance | undefined {
    for (const instance of this.instances) return instance;
    return undefined;
  }

  /**
   * Runs a call of the session's (a timer or socket event an ended instance left here);
   * reports a throw or a rejection. False when it threw.
   */
  run(where: EntryPoint, call: () => unknown, from: number): boolean {
    const report = (err: unknown) =>
      this.steward?.log(
        'warn',
        `a ${where} left to the session by ended conversation ${from} threw: ${describeError(err)}`,
        undefined,
      );
    return guard(call, report);
  }

  /** The host ended the session: forget its state; the host closes its sockets. */
  end(): void {
    this.#store.clear();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets.values()) socket.state = 'closed';
    this.sockets.clear();
  }
}
