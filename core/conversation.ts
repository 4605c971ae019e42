import { ProtoflyError } from './errors.js';
import { Emitter } from './events.js';
import type { ConversationBody, StubDescriptor } from './generated/types.js';
import { validateConversationBody } from './generated/validators.js';
import { type Message, nextId, type ResponseMessage, request } from './message.js';
import type { StubStatus } from './stub.js';
import { assertValid } from './validate.js';

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
  /** Sends a request towards the peer; resolves with its final response. */
  request(msg: Message): Promise<ResponseMessage>;
  /** Ends the stub instance and releases the conversation's scope. */
  close(): Promise<void>;
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

  /** Sends a chat message; resolves when the far side (or its server) acknowledged it. */
  send(text: string, mime?: string): Promise<ResponseMessage> {
    return this.post(mime ? { kind: 'chat', text, mime } : { kind: 'chat', text });
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
   * Sends any canonical body.
   *
   * @throws ProtoflyError `PF_ERR_SCHEMA` for a malformed body, `PF_ERR_CONVERSATION` after
   *   close, `PF_ERR_DELIVERY` when the far side refused it or did not answer in time.
   */
  async post(body: ConversationBody): Promise<ResponseMessage> {
    if (this.#closed) {
      throw new ProtoflyError('PF_ERR_CONVERSATION', `conversation with ${this.peer} is closed`, {
        peer: this.peer,
      });
    }
    assertValid(validateConversationBody, body, 'conversation body');
    const msg = CREATES.has(body.kind)
      ? request('create', this.local, this.peer, { value: body })
      : request('update', this.local, this.peer, { value: body });
    const res = await this.link.request(msg);
    if (res.body.code >= 300) {
      throw new ProtoflyError(
        'PF_ERR_DELIVERY',
        `${body.kind} to ${this.peer} got ${res.body.code} ${res.body.description ?? ''}`.trim(),
        { code: res.body.code, id: msg.id },
      );
    }
    return res;
  }

  /** Ends the conversation: the stub instance stops and the conversation's scope is disposed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.link.close();
    this.#setStatus('stopped');
  }

  /** Every inbound body, in order, until the conversation ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<Incoming> {
    const queue: Incoming[] = [];
    let wake: (() => void) | undefined;
    const offMessage = this.on('message', (m) => {
      if (queue.length >= ITERATOR_BUFFER) {
        this.emit(
          'error',
          new ProtoflyError('PF_ERR_FLOOD', `iterator of ${this.peer} is ${ITERATOR_BUFFER} messages behind`),
        );
        return;
      }
      queue.push(m);
      wake?.();
    });
    const offStatus = this.on('status', () => wake?.());
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#status === 'stopped' || this.#status === 'failed') return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      offMessage();
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
    if (this.listenerCount('message') > 0) this.emit('message', incoming);
    else if (this.#unheard.length < ITERATOR_BUFFER) this.#unheard.push(incoming);
    else return 503;
    return 200;
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
  }
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
