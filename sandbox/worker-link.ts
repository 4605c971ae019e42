import type { ProtoflyError } from '../core/errors.js';
import type { HostFrame, StubLimits, WorkerFrame } from './channel.js';
import type { SandboxLogger } from './host.js';
import type { Answers, Link, LinkReceiver, Request } from './link.js';

export interface WorkerLinkOptions {
  /** Names the worker in logs and errors ("worker 3", "inline"). */
  readonly label: string;
  /** The host's limits, which the worker enforces on its stubs: sent as it starts. */
  readonly limits: StubLimits;
  readonly log: SandboxLogger;
}

/** A request waiting for its answer. */
interface Sent {
  resolve(answer: WorkerFrame): void;
  reject(err: ProtoflyError): void;
}

/**
 * The host's link to one worker (mediasoup's Channel is the model): the typed channel both
 * ways, with one table of the requests waiting for an answer; the worker's start (`init`,
 * answered by `ready`); its heartbeat and the memory each answer reports; its death, which
 * fails whatever waits. It knows nothing of stubs: every other frame goes to its receiver
 * (sandbox.ts). How the worker is made, judged and killed is its host's (Node: worker-host.ts,
 * which reads `pings`, `pongs`, `started` and the memory here for its watchdog).
 */
export class WorkerLink implements Link {
  readonly ready: Promise<void>;
  #markReady!: () => void;
  #failReady!: (err: ProtoflyError) => void;
  #dead: ProtoflyError | undefined;
  #started = false;
  /** Bytes the worker held outside its JS heap at the last heartbeat. */
  external = 0;
  /** Bytes of JS heap the worker used at the last heartbeat. */
  heap = 0;
  /** Heartbeats asked for and answered: the worker answers each, in order. */
  #pings = 0;
  #pongs = 0;
  /** Requests waiting for an answer, by the id their frame carries (a load's `pkg`, a ping's `id`). */
  readonly #sent = new Map<number, Sent>();
  readonly #post: (frame: HostFrame) => void;
  readonly #options: WorkerLinkOptions;
  #receiver: LinkReceiver | undefined;
  #ids = 0;

  constructor(post: (frame: HostFrame) => void, options: WorkerLinkOptions) {
    this.#post = post;
    this.#options = options;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    // Whoever awaits `ready` sees the failure; nobody awaiting is not an unhandled rejection.
    this.ready.catch(() => {});
    post({ t: 'init', limits: options.limits });
  }

  get label(): string {
    return this.#options.label;
  }

  get dead(): ProtoflyError | undefined {
    return this.#dead;
  }

  /** The worker's supervisor is up (it said `ready`): from then on, an unanswered heartbeat is its own. */
  get started(): boolean {
    return this.#started;
  }

  /** Heartbeats asked for so far. */
  get pings(): number {
    return this.#pings;
  }

  /** Heartbeats answered so far, in the order asked. */
  get pongs(): number {
    return this.#pongs;
  }

  attach(receiver: LinkReceiver): void {
    this.#receiver = receiver;
  }

  nextId(): number {
    this.#ids += 1;
    return this.#ids;
  }

  post(frame: HostFrame): void {
    if (!this.#dead) this.#post(frame);
  }

  request<R extends Request>(frame: R): Promise<Answers[R['t']]> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = frame.t === 'load' ? frame.pkg : frame.id;
    const answer = new Promise<Answers[R['t']]>((resolve, reject) => {
      this.#sent.set(id, { resolve: resolve as (answer: WorkerFrame) => void, reject });
    });
    this.#post(frame);
    return answer;
  }

  /** Asks for a heartbeat answer, waited for by nobody: the watchdog counts pongs. */
  ping(): void {
    if (this.#dead) return;
    this.#pings++;
    this.#post({ t: 'ping', id: this.nextId() });
  }

  /**
   * Resolves with the worker's memory as it answers a heartbeat asked for now (not one asked
   * earlier, whose answer may be on its way), after it collected its garbage when `collect`
   * (where it can); at once, with the last known, if the link died.
   */
  measure(collect = false): Promise<{ heap: number; external: number }> {
    if (!this.#dead) this.#pings++;
    const ping = { t: 'ping', id: this.nextId() } as const;
    return this.request(collect ? { ...ping, collect } : ping).then(
      ({ heap, external }) => ({ heap, external }),
      () => ({ heap: this.heap, external: this.external }),
    );
  }

  /**
   * The worker is gone (or is being killed): every request waiting fails with `err`, and so
   * does everything the receiver holds. Idempotent.
   */
  die(err: ProtoflyError): void {
    if (this.#dead) return;
    this.#dead = err;
    this.#failReady(err);
    const sent = [...this.#sent.values()];
    this.#sent.clear();
    for (const request of sent) request.reject(err);
    this.#receiver?.closed(err);
  }

  /** Handles one frame from the worker: its own, or the receiver's. */
  receive(frame: WorkerFrame): void {
    switch (frame.t) {
      case 'pong':
        this.external = frame.external;
        this.heap = frame.heap;
        this.#pongs++;
        this.#answer(frame.id, frame);
        if (frame.rejections > 0) {
          this.#options.log.warn(
            { sandbox: this.label, rejections: frame.rejections },
            `stubs in ${this.label} left ${frame.rejections} promise rejection(s) unhandled`,
          );
        }
        return;
      case 'loaded':
        return this.#answer(frame.pkg, frame);
      case 'ready':
        this.#started = true;
        return this.#markReady();
      case 'memory':
        // The host that metered the worker ends it (see NodeWorkerHost).
        return;
      default:
        this.#receiver?.receive(frame);
    }
  }

  #answer(id: number, frame: WorkerFrame): void {
    const request = this.#sent.get(id);
    if (!request) return;
    this.#sent.delete(id);
    request.resolve(frame);
  }
}
