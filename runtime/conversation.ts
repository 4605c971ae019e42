// A little over 400 lines, for one thing: one conversation's requests and their fates. Sending,
// the requests awaiting answers, the held inbound and closing all settle the same table of
// requests, so they stay in one class.
import { ProtoflyError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import type { ConversationBody, StubDescriptor } from '../core/generated/types.js';
import { validateConversationBody } from '../core/generated/validators.js';
import { Code, isProvisional, type Message, nextId, type ResponseMessage, request } from '../core/message.js';
import { isUnknown, type StubStatus } from '../core/stub.js';
import { assertValid } from '../core/validate.js';

/**
 * A conversation between this runtime's user and one peer, carried by one stub instance of
 * the carrier domain's protocol. It speaks the canonical bodies of
 * `schemas/conversation.schema.json`: chat and call offers travel as `create`, everything in a
 * call (answer, candidates, progress, accept, reject, bye) and presence as `update`.
 */

/** A canonical body that arrived, with who sent it. */
export interface Incoming {
  readonly body: ConversationBody;
  readonly from: string;
  readonly id: string;
}

export interface ConversationEvents {
  message(incoming: Incoming): void;
  status(status: StubStatus, detail?: string): void;
  error(err: ProtoflyError): void;
  /** A live swap moved the conversation to another version of its stub. */
  carrier(carrier: Carrier, previous: Carrier): void;
}

/** Which stub carries a conversation. */
export interface Carrier {
  readonly domain: string;
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  readonly protocol: string;
}

/** What a conversation needs from its runtime. */
export interface ConversationLink {
  /**
   * Puts a request on its way to the peer (the bus, then the carrying stub instance). Its
   * final response comes back through {@link Conversation.settle}.
   *
   * @throws ProtoflyError when it cannot even be queued (`PF_ERR_QUEUE_FULL`, `PF_ERR_CLOSED`).
   */
  send(msg: Message): void;
  /**
   * Asks for a request to be withdrawn: taken back from wherever it waits (the runtime's hold,
   * the stub's outbox). Resolves true when it will not be delivered, false when it is on the
   * wire already (its response then says what became of it).
   */
  withdraw(msg: Message): Promise<boolean>;
  /** Ends the stub instance and releases the conversation's scope. */
  close(): Promise<void>;
}

/** How to send one message. */
export interface SendOptions {
  /**
   * Withdraw the message if it has no final response after this many ms: send() then rejects
   * (`PF_ERR_DELIVERY`, `detail.withdrawn`) if it was not on the wire yet, else it goes on
   * waiting for what became of it. Default: no deadline.
   */
  readonly timeoutMs?: number;
}

/** A request sent and not answered yet. */
interface Awaiting {
  readonly msg: Message;
  /** What it is, for messages: a body's kind, or `execute <method>`. */
  readonly kind: string;
  readonly resolve: (res: ResponseMessage) => void;
  readonly reject: (err: ProtoflyError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

const CREATES = new Set<ConversationBody['kind']>(['chat', 'offer']);
/** Inbound messages held for a reader that is not reading (or not listening yet); past it they are refused with 503. */
const ITERATOR_BUFFER = 10_000;

export class Conversation extends Emitter<ConversationEvents> {
  #status: StubStatus = 'connecting';
  #closed = false;
  #carrier: Carrier;
  /** What arrived before anyone listened (an incoming conversation's first messages). */
  readonly #unheard: Incoming[] = [];
  /** The queue of each async iterator reading the conversation. */
  readonly #readers = new Set<{ queue: Incoming[]; wake?: () => void }>();
  /** Requests sent and waiting for their final response, by id. */
  readonly #awaiting = new Map<string, Awaiting>();

  constructor(
    /** The peer's address. */
    readonly peer: string,
    /** This runtime's user. */
    readonly local: string,
    carrier: Carrier,
    /** True when the peer opened it. */
    readonly incoming: boolean,
    private readonly link: ConversationLink,
  ) {
    super();
    this.#carrier = carrier;
  }

  get status(): StubStatus {
    return this.#status;
  }

  /** The stub version carrying the conversation now. */
  get carrier(): Carrier {
    return this.#carrier;
  }

  /** Adds a listener. The first `message` listener also gets, in order, what arrived before it. */
  override on<K extends keyof ConversationEvents>(event: K, listener: ConversationEvents[K]): () => void {
    const off = super.on(event, listener);
    if (event === 'message' && this.#unheard.length > 0) {
      queueMicrotask(() => {
        for (const m of this.#unheard.splice(0)) this.emit('message', m);
      });
    }
    return off;
  }

  /**
   * Sends a chat message.
   *
   * What a settled send() means, for every method that sends (the guarantee, in one place):
   * - Resolved: the far side (or its server) has the message. The app there gets it exactly
   *   once: stubs resend what was not acknowledged (at-least-once on the wire, across a lost
   *   connection or a live swap) and the receiving side drops the copies.
   * - Rejected with `PF_ERR_DELIVERY`: it was not delivered and will not be (`detail.code`:
   *   refused by the far side or its server, 503 when a bound was full, or `withdrawn` at
   *   `timeoutMs` before it went on the wire). Sending it again makes no duplicate.
   * - Rejected with `PF_ERR_CONVERSATION` and `detail.unknown`: no answer came and none will
   *   (the conversation ended, or its stub gave up waiting on the wire, e.g. a SIP transaction
   *   timed out: `UNKNOWN` in core/stub.ts); it may or may not have arrived.
   * - Pending: the message is on its way, e.g. held by a stub that reconnects; there is no
   *   deadline unless `timeoutMs` asks for one.
   * Messages from one sender arrive in the order they were sent.
   */
  send(text: string, options?: SendOptions & { mime?: string }): Promise<ResponseMessage> {
    const mime = options?.mime;
    return this.post(mime ? { kind: 'chat', text, mime } : { kind: 'chat', text }, options);
  }

  /** Offers a call; resolves with its callId once the offer was acknowledged. */
  async call(
    sdp: string,
    media?: ('audio' | 'video' | 'data')[],
    callId: string = nextId(),
  ): Promise<string> {
    await this.post(media ? { kind: 'offer', callId, sdp, media } : { kind: 'offer', callId, sdp });
    return callId;
  }

  answer(callId: string, sdp: string): Promise<ResponseMessage> {
    return this.post({ kind: 'answer', callId, sdp });
  }

  candidate(
    callId: string,
    candidate: string,
    sdpMid?: string | null,
    sdpMLineIndex?: number | null,
  ): Promise<ResponseMessage> {
    return this.post({
      kind: 'candidate',
      callId,
      candidate,
      sdpMid: sdpMid ?? null,
      sdpMLineIndex: sdpMLineIndex ?? null,
    });
  }

  accept(callId?: string): Promise<ResponseMessage> {
    return this.post(callId ? { kind: 'accept', callId } : { kind: 'accept' });
  }

  reject(code = 603, callId?: string, reason?: string): Promise<ResponseMessage> {
    return this.post({ kind: 'reject', code, ...(callId ? { callId } : {}), ...(reason ? { reason } : {}) });
  }

  bye(callId?: string, reason?: string): Promise<ResponseMessage> {
    return this.post({ kind: 'bye', ...(callId ? { callId } : {}), ...(reason ? { reason } : {}) });
  }

  /**
   * Sends any canonical body; settles as {@link send} says.
   *
   * @throws ProtoflyError `PF_ERR_SCHEMA` for a malformed body, `PF_ERR_CONVERSATION` after
   *   close, `PF_ERR_DELIVERY` when it will not be delivered.
   */
  post(body: ConversationBody, options: SendOptions = {}): Promise<ResponseMessage> {
    try {
      assertValid(validateConversationBody, body, 'conversation body');
    } catch (err) {
      return Promise.reject(err);
    }
    const msg = CREATES.has(body.kind)
      ? request('create', this.local, this.peer, { value: body })
      : request('update', this.local, this.peer, { value: body });
    return this.#request(msg, body.kind, options);
  }

  /**
   * Asks the peer to run `method` with `params` (an `execute`, schemas/message.schema.json): a
   * service's request, such as a search of the domain's directory (see runtime/directory.ts);
   * settles as {@link send} says.
   *
   * @throws ProtoflyError `PF_ERR_CONVERSATION` after close, `PF_ERR_DELIVERY` when it will not be
   *   delivered or the peer refused it (`detail.code`: the response code).
   */
  execute(
    method: string,
    params: Record<string, unknown>,
    options: SendOptions = {},
  ): Promise<ResponseMessage> {
    return this.#request(
      request('execute', this.local, this.peer, { method, params }),
      `execute ${method}`,
      options,
    );
  }

  /** Sends the request `msg` and waits for its final response (see {@link send}). */
  #request(msg: Message, kind: string, options: SendOptions): Promise<ResponseMessage> {
    if (this.#closed) {
      return Promise.reject(
        new ProtoflyError('PF_ERR_CONVERSATION', `conversation with ${this.peer} is closed`, {
          peer: this.peer,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const awaiting: Awaiting = { msg, kind, resolve, reject };
      this.#awaiting.set(msg.id, awaiting);
      try {
        this.link.send(msg);
      } catch (err) {
        this.#awaiting.delete(msg.id);
        return reject(notDelivered(awaiting, Code.UNAVAILABLE, (err as Error).message));
      }
      const { timeoutMs } = options;
      if (timeoutMs !== undefined) awaiting.timer = setTimeout(() => this.#withdraw(awaiting), timeoutMs);
    });
  }

  /** The deadline of a send passed: withdrawn, it fails; on the wire already, its answer decides. */
  #withdraw(awaiting: Awaiting): void {
    this.link.withdraw(awaiting.msg).then(
      (withdrawn) => {
        if (!withdrawn || this.#awaiting.get(awaiting.msg.id) !== awaiting) return;
        this.#awaiting.delete(awaiting.msg.id);
        awaiting.reject(
          notDelivered(awaiting, Code.TIMEOUT, 'withdrawn at its deadline, before it was sent', true),
        );
      },
      // No answer to the withdrawal: the message may be on its way; its own answer decides.
      () => undefined,
    );
  }

  /**
   * The final response to a request this conversation sent (a 1xx is ignored). False when no
   * request of that id waits.
   *
   * @internal the runtime's side of the conversation
   */
  settle(res: ResponseMessage): boolean {
    const awaiting = this.#awaiting.get(res.id);
    if (!awaiting) return false;
    if (isProvisional(res.body.code)) return true;
    this.#awaiting.delete(res.id);
    clearTimeout(awaiting.timer);
    if (res.body.code < 300) awaiting.resolve(res);
    else if (isUnknown(res))
      awaiting.reject(fateUnknown(awaiting, `${res.body.code} ${res.body.description ?? ''}`.trim()));
    else awaiting.reject(notDelivered(awaiting, res.body.code, res.body.description ?? ''));
    return true;
  }

  /** The conversation ended: what still waits for an answer fails, its fate unknown. */
  #abandon(why: string): void {
    for (const awaiting of this.#awaiting.values()) {
      clearTimeout(awaiting.timer);
      awaiting.reject(fateUnknown(awaiting, `the conversation ${why}`));
    }
    this.#awaiting.clear();
  }

  /** Ends the conversation: the stub instance stops and the conversation's scope is disposed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.link.close();
    this.#setStatus('stopped');
    this.#abandon('was closed');
  }

  /**
   * Every inbound body, in order, until the conversation ends. A reader that falls
   * {@link ITERATOR_BUFFER} messages behind makes the conversation refuse what comes next with
   * 503 (the sender's send() fails: not delivered) rather than take what it would drop.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Incoming> {
    const reader: { queue: Incoming[]; wake?: () => void } = { queue: this.#unheard.splice(0) };
    this.#readers.add(reader);
    const offStatus = this.on('status', () => reader.wake?.());
    try {
      for (;;) {
        const next = reader.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#status === 'stopped' || this.#status === 'failed') return;
        await new Promise<void>((r) => {
          reader.wake = r;
        });
        reader.wake = undefined;
      }
    } finally {
      this.#readers.delete(reader);
      offStatus();
    }
  }

  /**
   * Takes a message the stub delivered from the peer. Returns the response code the runtime
   * answers with: 200, or 400 for a body that is not canonical.
   *
   * @internal the runtime's side of the conversation
   */
  deliver(msg: Message): number {
    const value = msg.type === 'create' || msg.type === 'update' ? msg.body.value : undefined;
    if (!validateConversationBody(value)) {
      this.emit(
        'error',
        new ProtoflyError(
          'PF_ERR_SCHEMA',
          `conversation body from ${msg.from} (${msg.type} ${msg.id}) is not canonical`,
          {
            errors: validateConversationBody.errors,
          },
        ),
      );
      return 400;
    }
    const incoming = { body: value, from: msg.from, id: msg.id };
    // Refused before it is taken: once answered 200, the message is the app's and must reach it.
    for (const reader of this.#readers) if (reader.queue.length >= ITERATOR_BUFFER) return Code.UNAVAILABLE;
    const heard = this.listenerCount('message') > 0 || this.#readers.size > 0;
    if (!heard && this.#unheard.length >= ITERATOR_BUFFER) return Code.UNAVAILABLE;
    if (!heard) this.#unheard.push(incoming);
    for (const reader of this.#readers) {
      reader.queue.push(incoming);
      reader.wake?.();
    }
    this.emit('message', incoming);
    return Code.OK;
  }

  /** @internal the stub instance's status, as its host reports it */
  setStatus(status: StubStatus, detail?: string): void {
    this.#setStatus(status, detail);
  }

  /** @internal a live swap moved the conversation to another version of its stub */
  moveTo(carrier: Carrier): void {
    const previous = this.#carrier;
    this.#carrier = carrier;
    this.emit('carrier', carrier, previous);
  }

  /** @internal a failure of the conversation's stub or of its link */
  fail(err: ProtoflyError): void {
    this.emit('error', err);
  }

  #setStatus(status: StubStatus, detail?: string): void {
    if (this.#status === status) return;
    this.#status = status;
    this.emit('status', status, detail);
    if (status === 'failed') this.#abandon(`failed: ${detail ?? ''}`.trim());
  }
}

/** `PF_ERR_DELIVERY` for a request that was not delivered and will not be. */
function notDelivered(
  awaiting: Awaiting,
  code: number,
  description: string,
  withdrawn = false,
): ProtoflyError {
  return new ProtoflyError(
    'PF_ERR_DELIVERY',
    `${awaiting.kind} ${awaiting.msg.id} to ${awaiting.msg.to} got ${code} ${description}`.trim(),
    {
      code,
      id: awaiting.msg.id,
      ...(description ? { description } : {}),
      ...(withdrawn ? { withdrawn } : {}),
    },
  );
}

/** No answer came to a request and none will (`why`): it may or may not have arrived. */
function fateUnknown(awaiting: Awaiting, why: string): ProtoflyError {
  return new ProtoflyError(
    'PF_ERR_CONVERSATION',
    `${awaiting.kind} ${awaiting.msg.id} to ${awaiting.msg.to} has no answer (${why}); it may have arrived`,
    { id: awaiting.msg.id, unknown: true },
  );
}

/** The carrier of a loaded stub. */
export function carrierOf(d: StubDescriptor): Carrier {
  return {
    domain: d.domain,
    name: d.name,
    version: d.version,
    integrity: d.sourcePackage.integrity,
    protocol: d.protocol,
  };
}
