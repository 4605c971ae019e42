import type { Logger } from 'pino';
import type { Message } from '../../core/generated/types.js';
import type { CdrUpdate } from '../services/service.js';
import type { CdrOptions } from './options.js';

/** The node speaks json-ws to its clients; a CDR names it as the conversation's protocol. */
const PROTOCOL = 'json-ws';

/** A conversation as this node saw it since its last write. */
interface Open {
  readonly kind: 'chat' | 'call';
  readonly parties: readonly [string, string];
  readonly callId: string | undefined;
  first: number;
  last: number;
  /** Messages since the last write. */
  messages: number;
  outcome: string;
  end: number | undefined;
  dirty: boolean;
}

/**
 * Counts the conversations whose messages this node accepts, for the Cdr service: a chat
 * between two parties, or a call (by its callId). Each message is counted once in the whole
 * cluster, by the node of its sender. Counting is a map update on the message path; what was
 * counted is written every `flushMs` in one `record` call, and a conversation without a
 * message for `idleMs` ends then.
 *
 * Outcomes: a chat is `chatting`, then `completed` (idle, or a bye) or `rejected`. A call is
 * `ringing`, `answered`, then `completed`, `cancelled` (bye before an answer), `rejected` or
 * `unanswered` (idle while ringing). Records left open by a node that stopped end as `interrupted`.
 */
export class CdrRecorder {
  readonly #open = new Map<string, Open>();
  /** Conversations that ended and were replaced by a new one of the same key before being written. */
  #ended: CdrUpdate[] = [];
  readonly #options: Required<CdrOptions>;
  readonly #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: CdrOptions, log: Logger) {
    this.#options = { idleMs: 300_000, flushMs: 1000, ...options };
    this.#log = log;
  }

  /** Ends what an earlier process left open, and starts writing periodically. */
  async start(): Promise<void> {
    await this.#closeStale();
    this.#timer = setInterval(() => void this.flush(), this.#options.flushMs);
    this.#timer.unref();
  }

  /** Counts an accepted message, when it belongs to a conversation. */
  seen(m: Message, now = Date.now()): void {
    if (m.type !== 'create' && m.type !== 'update') return;
    const body = (m.body as { value?: { kind?: unknown; callId?: unknown } }).value;
    const kind = body?.kind;
    if (typeof kind !== 'string' || kind === 'presence') return;
    const callId = typeof body!.callId === 'string' ? body!.callId : undefined;
    const parties: [string, string] = m.from < m.to ? [m.from, m.to] : [m.to, m.from];
    const key = `${callId === undefined ? 'chat' : 'call'} ${parties[0]} ${parties[1]}${callId === undefined ? '' : ` ${callId}`}`;
    let open = this.#open.get(key);
    if (open?.end !== undefined) this.#ended.push(this.#update(key, open));
    if (!open || open.end !== undefined) {
      open = {
        kind: callId === undefined ? 'chat' : 'call',
        parties,
        callId,
        first: now,
        last: now,
        messages: 0,
        outcome: callId === undefined ? 'chatting' : 'ringing',
        end: undefined,
        dirty: true,
      };
      this.#open.set(key, open);
    }
    if (open.messages === 0) open.first = now;
    open.last = now;
    open.messages++;
    open.dirty = true;
    advance(open, kind, now);
  }

  /** Writes what was counted since the last write, and ends idle conversations. */
  flush(now = Date.now()): Promise<void> {
    const updates = this.#ended;
    this.#ended = [];
    for (const [key, open] of this.#open) {
      if (open.end === undefined && now - open.last >= this.#options.idleMs) {
        open.end = open.last;
        open.outcome = idleOutcome(open.outcome);
        open.dirty = true;
      }
      if (!open.dirty) continue;
      updates.push(this.#update(key, open));
      open.messages = 0;
      open.dirty = false;
      if (open.end !== undefined) this.#open.delete(key);
    }
    // One write at a time, in order: a later update of a conversation never overtakes an earlier one.
    this.#writing = this.#writing.then(async () => {
      try {
        if (updates.length) await this.#options.service.record(updates);
        await this.#closeStale(now);
      } catch (err) {
        this.#log.error({ err: (err as Error).message, lost: updates.length }, 'CDRs not written');
      }
    });
    return this.#writing;
  }

  /** Writes what is left; open conversations stay open (a later start of the node ends them as interrupted). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  #update(key: string, open: Open): CdrUpdate {
    return {
      key,
      kind: open.kind,
      parties: open.parties,
      ...(open.callId === undefined ? {} : { callId: open.callId }),
      protocol: PROTOCOL,
      stub: this.#options.stub,
      first: open.first,
      last: open.last,
      messages: open.messages,
      outcome: open.outcome,
      ...(open.end === undefined ? {} : { end: open.end }),
    };
  }

  /** Records open with no message for twice the idle time: no node is counting them any more. */
  #closeStale(now = Date.now()): Promise<unknown> {
    return this.#options.service.closeStale(now - 2 * this.#options.idleMs, 'interrupted');
  }
}

/** The call or chat state after a message of `kind`. */
function advance(open: Open, kind: string, now: number): void {
  if (kind === 'answer' || kind === 'accept') {
    if (open.kind === 'call') open.outcome = 'answered';
  } else if (kind === 'reject') {
    open.outcome = 'rejected';
    open.end = now;
  } else if (kind === 'bye') {
    open.outcome = open.outcome === 'ringing' ? 'cancelled' : 'completed';
    open.end = now;
  }
}

function idleOutcome(outcome: string): string {
  return outcome === 'ringing' ? 'unanswered' : 'completed';
}
