import type { ProtoflyError } from '../../core/errors.js';
import type { SocketDelegate, StubSession } from '../../core/stub.js';
import { Credit } from '../credit.js';
import type { Instance } from './instance.js';

/** A WebSocket the host holds for a stub, seen from the worker. */
export interface WorkerSocket {
  readonly sock: number;
  readonly session: WorkerSession;
  /** The instance that opened it: its exceptions in the delegate fail that instance. */
  readonly opener: Instance;
  readonly delegate: SocketDelegate;
  state: 'connecting' | 'open' | 'closed';
}

/**
 * What the instances of one stub share per (package, domain, identity): the `ctx.session`
 * store, the sockets they opened (a socket lives as long as its session, so one connection
 * can serve many conversations), and the session's credit in both directions.
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

  /** The host ended the session: forget its state; the host closes its sockets. */
  end(): void {
    this.#store.clear();
    for (const socket of this.sockets.values()) socket.state = 'closed';
    this.sockets.clear();
  }
}
