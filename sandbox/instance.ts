import { isProtoflyError, isStubErrorCode, ProtoflyError, type StubErrorCode } from '../core/errors.js';
import { assertMessage, type Message } from '../core/message.js';
import { assertTransition, type StubStatus } from '../core/stub.js';
import { costOf, type HostFrame, type PackageLimits } from './channel.js';
import type { EndpointMatcher } from './endpoint.js';
import type { ConversationContext, SandboxLogger, StubHandle } from './host.js';
import { allowSenders, type SenderCheck } from './sender.js';
import type { HostSession } from './session.js';

/** What a host instance needs from the sandbox it runs in. */
export interface InstanceOwner {
  post(frame: HostFrame): void;
  /** The instance ended (failed or stopped): release its session. Called once. */
  release(instance: HostInstance): void;
  readonly log: SandboxLogger;
}

/**
 * The host side of one stub instance (one conversation's; the worker side is
 * worker/instance.ts): the {@link StubHandle} the runtime holds, and the checks on everything
 * the stub sends across (schema, `from`, status transitions).
 */
export class HostInstance implements StubHandle {
  #status: StubStatus = 'created';
  /** Failed or stopped as far as the host is concerned: nothing more goes in. */
  #ended = false;
  #released = false;
  readonly #canSend: SenderCheck;
  readonly activated: Promise<StubHandle>;
  #activation: { resolve(handle: StubHandle): void; reject(err: ProtoflyError): void } | undefined;
  #stopping: Promise<void> | undefined;
  #stopped: (() => void) | undefined;
  readonly #snapshots: { resolve(value: unknown): void; reject(err: ProtoflyError): void }[] = [];

  constructor(
    readonly cid: number,
    readonly id: string,
    /** The stub, as `domain/name@version`. */
    readonly stub: string,
    readonly session: HostSession,
    /** The stub's endpoint allow-list, compiled. */
    readonly endpoints: EndpointMatcher,
    /** The limits selected for the stub's package. */
    readonly limits: PackageLimits,
    readonly ctx: ConversationContext,
    readonly owner: InstanceOwner,
  ) {
    this.#canSend = allowSenders(ctx.from);
    this.activated = new Promise<StubHandle>((resolve, reject) => {
      this.#activation = { resolve, reject };
    });
  }

  get status(): StubStatus {
    return this.#status;
  }

  /** Failed or stopped, by the host or by the stub's own word: nothing from the stub is taken any more. */
  get ended(): boolean {
    return this.#ended;
  }

  postMessage(msg: Message): void {
    if (this.#ended) {
      throw new ProtoflyError(
        'PF_ERR_CLOSED',
        `conversation ${this.id} (${this.stub}) is ${this.#status}; message ${msg.id} not delivered`,
        { conversation: this.id },
      );
    }
    const frame: HostFrame = {
      t: 'deliver',
      cid: this.cid,
      session: this.session.id,
      json: JSON.stringify(msg),
    };
    if (!this.session.out.take(costOf(frame))) {
      throw new ProtoflyError(
        'PF_ERR_QUEUE_FULL',
        `conversation ${this.id} (${this.stub}) has ${this.session.out.inFlight} bytes of messages its stub has not taken yet; message ${msg.id} not delivered`,
        { conversation: this.id, window: this.session.out.windowBytes },
      );
    }
    this.owner.post(frame);
  }

  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = new Promise<void>((resolve) => {
      this.#stopped = resolve;
    });
    if (this.#ended) this.#finish();
    else this.owner.post({ t: 'stop', cid: this.cid });
    return this.#stopping;
  }

  snapshot(): Promise<unknown> {
    if (this.#ended) {
      return Promise.reject(
        new ProtoflyError('PF_ERR_CLOSED', `conversation ${this.id} (${this.stub}) is ${this.#status}`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#snapshots.push({ resolve, reject });
      this.owner.post({ t: 'snapshot', cid: this.cid });
    });
  }

  // ---- what the worker reports ----

  /** `activate` returned a stub. */
  onActivated(): void {
    this.#activation?.resolve(this);
    this.#activation = undefined;
  }

  /** The stub sent a message: checked, then handed to the runtime. */
  onSend(json: string): void {
    if (this.#ended) return;
    let msg: Message;
    try {
      const parsed: unknown = JSON.parse(json);
      assertMessage(parsed);
      msg = parsed;
    } catch (err) {
      return this.refused(
        isProtoflyError(err)
          ? err
          : new ProtoflyError('PF_ERR_SCHEMA', `stub ${this.stub} sent text that is not JSON`),
      );
    }
    if (!this.#canSend(msg.from)) {
      return this.refused(
        new ProtoflyError(
          'PF_ERR_SPOOF',
          `stub ${this.stub} of conversation ${this.id} sent ${msg.type} ${msg.id} from ${msg.from}, an address it was not given`,
          { from: msg.from, conversation: this.id },
        ),
      );
    }
    try {
      this.ctx.send(msg);
    } catch (err) {
      this.refused(
        isProtoflyError(err)
          ? err
          : new ProtoflyError('PF_ERR_LISTENER', `the runtime's send threw on ${msg.type} ${msg.id}`, {
              id: msg.id,
            }),
      );
    }
  }

  /**
   * The stub reported a status. `failed` and `stopped` are its last word: from then on nothing
   * it sends is taken (messages, statuses, logs, refusals), and its instance is stopped.
   */
  onStatus(status: StubStatus, detail: string | undefined, code?: string): void {
    if (this.#ended) return;
    try {
      assertTransition(this.#status, status);
    } catch (err) {
      return this.refused(err as ProtoflyError);
    }
    // Checked again here: the worker is the untrusted side. A forged code is refused, and the
    // failure stands without it.
    const coded = code !== undefined && status === 'failed' && isStubErrorCode(code);
    if (code !== undefined && !coded) {
      this.refused(
        new ProtoflyError(
          'PF_ERR_STATUS',
          `stub ${this.stub} reported ${status} with code ${code.slice(0, 64)}, which is not a stub's`,
          { conversation: this.id },
        ),
      );
    }
    this.#setStatus(status, detail, coded ? stubFailure(code, this.stub, this.id, detail) : undefined);
    if (status !== 'failed' && status !== 'stopped') return;
    this.#ended = true;
    // The worker's `stopped` answer releases the conversation (see onStopped).
    if (!this.#stopping) this.owner.post({ t: 'stop', cid: this.cid });
  }

  /** The stub's snapshot arrived, or `error` says why it was refused (over the frame limit). */
  onSnapshot(json: string | undefined, error: string | undefined): void {
    if (this.#ended) return;
    const pending = this.#snapshots.shift();
    if (error === undefined) return pending?.resolve(json === undefined ? undefined : JSON.parse(json));
    pending?.reject(
      new ProtoflyError('PF_ERR_TOO_LARGE', `stub ${this.stub} of conversation ${this.id}: ${error}`, {
        conversation: this.id,
      }),
    );
  }

  /** The worker ended the stub's `stop()`; `error` when it threw or timed out. */
  onStopped(error: string | undefined): void {
    this.#stopping ??= Promise.resolve();
    if (error === undefined) return this.#finish();
    this.fail(
      new ProtoflyError('PF_ERR_SANDBOX', `stub ${this.stub} failed in stop(): ${error}`, {
        conversation: this.id,
        stub: this.stub,
      }),
    );
  }

  /** Something the stub did was refused; the conversation goes on. Logged at debug: a stub can refuse itself often. */
  refused(err: ProtoflyError): void {
    if (this.#ended) return;
    this.owner.log.debug({ conversation: this.id, stub: this.stub, code: err.code }, err.message);
    this.#tell(() => this.ctx.delegate?.onRefused?.(err));
  }

  /** The host ends the conversation as failed: the stub threw, or its worker is gone. */
  fail(err: ProtoflyError): void {
    if (this.#released) return;
    // Ended by the stub's own word already: that status stands, the rest is released.
    if (!this.#ended) {
      this.#ended = true;
      this.#status = 'failed';
      this.owner.log.warn({ conversation: this.id, stub: this.stub, code: err.code }, err.message);
      this.#tell(() => this.ctx.delegate?.onStatus?.('failed', err.message, err));
    }
    this.#activation?.reject(err);
    this.#activation = undefined;
    for (const pending of this.#snapshots.splice(0)) pending.reject(err);
    this.#release();
    if (this.#stopping) this.#finish();
  }

  // ---- helpers ----

  /** Ends the conversation as stopped (after failure too) and settles `stop()`. */
  #finish(): void {
    this.#ended = true;
    if (this.#status !== 'stopped') this.#setStatus('stopped', undefined);
    const closed = new ProtoflyError('PF_ERR_CLOSED', `conversation ${this.id} (${this.stub}) stopped`);
    this.#activation?.reject(closed);
    this.#activation = undefined;
    for (const pending of this.#snapshots.splice(0)) pending.reject(closed);
    this.#release();
    this.#stopped?.();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.owner.release(this);
  }

  #setStatus(status: StubStatus, detail: string | undefined, error?: ProtoflyError): void {
    this.#status = status;
    this.#tell(() => this.ctx.delegate?.onStatus?.(status, detail, error));
  }

  /** Calls the runtime's delegate; its exceptions are its own and are only logged. */
  #tell(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.owner.log.error(
        { conversation: this.id, stub: this.stub },
        `a sandbox delegate threw: ${(err as Error)?.message ?? String(err)}`,
      );
    }
  }
}

/**
 * The error a stub failed with, by its own code: its detail as the message (without the code
 * in front, when the stub passed a coded error's message), and the stub in `detail`.
 */
function stubFailure(code: StubErrorCode, stub: string, conversation: string, detail = ''): ProtoflyError {
  const text = detail.startsWith(`${code}: `) ? detail.slice(code.length + 2) : detail;
  return new ProtoflyError(code, `stub ${stub}: ${text || 'failed'}`, { stub, conversation });
}
