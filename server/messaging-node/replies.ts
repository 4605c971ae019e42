import type { Logger } from 'pino';
import { isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Message } from '../../core/generated/types.js';
import type { CdrRecorder } from './cdr-recorder.js';
import type { ClientSession } from './client-session.js';
import { errFrame } from './frames.js';
import type { NodeMetrics } from './metrics.js';

/**
 * The node's answers to a client: every message is answered once, by its id, in an `ack` (it
 * was accepted) or an `err` (refused, with a coded error); both are counted. Used by every part.
 */
export class Replies {
  readonly #log: Logger;
  readonly #cdr: CdrRecorder | undefined;

  constructor(
    /** The node's counters, which the other parts count on too. */
    readonly metrics: NodeMetrics,
    log: Logger,
    cdr: CdrRecorder | undefined,
  ) {
    this.#log = log;
    this.#cdr = cdr;
  }

  /** Message `m` of `session` was accepted: acknowledged (batched, see ClientSession.ack) and recorded. */
  accepted(session: ClientSession, m: Message): undefined {
    session.ack(m.id);
    this.metrics.acks++;
    this.#cdr?.seen(m);
    return undefined;
  }

  /** Counts a refusal and tells the client, if it can still hear. */
  refuse(session: ClientSession, err: ProtoflyError, id?: string): undefined {
    this.metrics.refuse(err.code);
    if (!session.open) return;
    session.flushAcks();
    session.send(errFrame(err, id));
    return undefined;
  }

  /**
   * What a service's failure on a message's way (`doing` it) tells its sender: the coded error
   * it raised, else PF_ERR_UNAVAILABLE (a store failing, or failing over: send it again). Logged.
   */
  failure(session: ClientSession, err: unknown, doing: string, id?: string): ProtoflyError {
    const e = isProtoflyError(err)
      ? err
      : new ProtoflyError(
          'PF_ERR_UNAVAILABLE',
          `${doing}${id ? ` message ${id}` : ''} failed: ${(err as Error)?.message ?? String(err)}`,
          { doing },
          { cause: err },
        );
    this.#log.warn({ session: session.id, code: e.code, reason: e.message }, `${doing} failed`);
    return e;
  }

  /** A service failed on a connection's way (`doing` it): its client is told with a coded error. */
  failed(session: ClientSession, err: unknown, doing: string): undefined {
    return this.refuse(session, this.failure(session, err, doing));
  }
}
