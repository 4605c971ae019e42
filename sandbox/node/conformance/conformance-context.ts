import { isStubErrorCode } from '../../../core/errors.js';
import { validateMessage } from '../../../core/generated/validators.js';
import { type Message, response } from '../../../core/message.js';
import {
  type Activate,
  type SocketDelegate,
  STATUS_TRANSITIONS,
  type Stub,
  type StubSocket,
  type StubStatus,
} from '../../../core/stub.js';
import { DirectContext, type DirectContextOptions, DirectSession } from '../direct-context.js';

/**
 * The conformance suite's view of one stub instance: a {@link DirectContext} that also records
 * what a conforming stub never does (a handler that throws, a status the lifecycle forbids, a
 * message that is not canonical) instead of letting it escape into the test process, where it
 * would fail the run without naming the property.
 */
export class ConformanceContext extends DirectContext {
  /** Every status the stub asked for, refused or not, in order. */
  readonly attempts: StubStatus[] = [];
  /** What the stub threw out of a socket handler, a timer, `postMessage` or `stop`, and where. */
  readonly thrown: string[] = [];
  /** Frames handed to the stub's `onMessage` so far, on any socket. */
  frames = 0;
  /** The detail given with `failed`, if any. */
  failedDetail: string | undefined;
  /** Told of every status the context took, as it takes it (a property acting at that moment). */
  onStatus: ((status: StubStatus) => void) | undefined;

  override status(status: StubStatus, detail?: string, code?: string): void {
    this.attempts.push(status);
    super.status(status, detail, code);
    if (status === 'failed') this.failedDetail = detail;
    this.onStatus?.(status);
  }

  override connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    const guard =
      <A extends unknown[]>(where: string, fn: ((...args: A) => void) | undefined) =>
      (...args: A) =>
        this.guard(where, () => fn?.(...args));
    return super.connect(url, protocols, {
      onOpen: guard('onOpen', delegate.onOpen?.bind(delegate)),
      onMessage: guard('onMessage', (data: string) => {
        this.frames++;
        delegate.onMessage(data);
      }),
      onClose: guard('onClose', delegate.onClose?.bind(delegate)),
      onError: guard('onError', delegate.onError?.bind(delegate)),
    });
  }

  override setTimeout(fn: () => void, ms: number): number {
    return super.setTimeout(() => this.guard('a timer', fn), ms);
  }

  override setInterval(fn: () => void, ms: number): number {
    return super.setInterval(() => this.guard('an interval', fn), ms);
  }

  /** Runs one of the stub's entry points, recording what it throws. */
  guard(where: string, fn: () => unknown): void {
    try {
      const result = fn();
      // An async entry point that rejects has thrown too.
      if (result instanceof Promise) result.catch((err) => this.#threw(where, err));
    } catch (err) {
      this.#threw(where, err);
    }
  }

  /**
   * What this instance did wrong so far, in words, or undefined: a throw, a status the lifecycle
   * forbids (from `created`, core/stub.ts STATUS_TRANSITIONS), a `failed` without a stub-facing
   * code, a message that is not canonical.
   */
  faults(): string | undefined {
    // The same throw again (a handler that throws on every such frame) is counted, not repeated.
    const counts = new Map<string, number>();
    for (const t of this.thrown) counts.set(t, (counts.get(t) ?? 0) + 1);
    const faults = [...counts].map(([t, n]) => (n > 1 ? `${t} (${n} times)` : t));
    let from: StubStatus = 'created';
    for (const to of this.attempts) {
      if (!STATUS_TRANSITIONS[from].includes(to)) {
        faults.push(`reported '${to}' after '${from}' (${['created', ...this.attempts].join(' → ')})`);
        break;
      }
      from = to;
    }
    if (this.statuses.includes('failed') && !isStubErrorCode(this.failedWith)) {
      faults.push(`failed with ${String(this.failedWith)}, not a stub-facing code of core/errors.ts`);
    }
    const bad = this.received.find((m) => !validateMessage(m));
    if (bad)
      faults.push(`handed the runtime a message that is not canonical: ${JSON.stringify(bad).slice(0, 200)}`);
    return faults.length > 0 ? faults.join('; ') : undefined;
  }

  #threw(where: string, err: unknown): void {
    this.thrown.push(`threw out of ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** What makes a context for one user against the server under test. */
export interface ContextSettings {
  /** `ctx.identity.token`. */
  readonly token?: string;
  /** `ctx.config`; the manifest's defaults go beneath it, as the runtime puts them. */
  readonly config: Readonly<Record<string, unknown>>;
  /** `ctx.domain`: the domain whose protocol the stub speaks. Default: the address's. */
  readonly domain?: string;
}

/** One running instance of the stub under test, as the runtime would hold it. */
export interface Instance {
  readonly address: string;
  readonly ctx: ConformanceContext;
  readonly session: DirectSession;
  readonly stub: Stub;
  /** Hands the stub a message from the runtime, recording what it throws. */
  post(msg: Message): void;
  /** Answers every request it hands the runtime with 200 from now on, as an app does. */
  answering(): void;
  /** Stops the instance as the host does: its `stop()`, then its context dies. */
  stop(): Promise<void>;
}

/** Starts instances and stops them all at the end of a property. */
export class Instances {
  readonly #all: Instance[] = [];

  constructor(
    readonly activate: Activate,
    readonly defaults: Readonly<Record<string, unknown>>,
  ) {}

  /** Activates the stub for `address` with `settings`. */
  async start(
    address: string,
    settings: ContextSettings,
    options: {
      session?: DirectSession;
      peer?: string;
      snapshot?: unknown;
      onStatus?: (status: StubStatus) => void;
    } = {},
  ): Promise<Instance> {
    const session = options.session ?? new DirectSession();
    const contextOptions: DirectContextOptions = {
      address,
      token: settings.token,
      domain: settings.domain,
      config: { ...this.defaults, ...settings.config },
      session,
      peer: options.peer,
      snapshot: options.snapshot,
    };
    const ctx = new ConformanceContext(contextOptions);
    ctx.onStatus = options.onStatus;
    const stub = await this.activate(ctx);
    let answer = false;
    let stopped = false;
    const take = ctx.send.bind(ctx);
    const post = (msg: Message) => ctx.guard('postMessage', () => stub.postMessage(msg));
    ctx.send = (msg) => {
      take(msg);
      // A turn later, as a runtime answers: not from inside the stub's own call.
      if (answer && msg.type !== 'response') queueMicrotask(() => !stopped && post(response(msg, 200)));
    };
    const instance: Instance = {
      address,
      ctx,
      session,
      stub,
      post,
      answering: () => {
        answer = true;
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        try {
          await stub.stop();
        } catch (err) {
          ctx.thrown.push(`threw out of stop: ${(err as Error).message}`);
        }
        ctx.end();
      },
    };
    this.#all.push(instance);
    return instance;
  }

  /** Stops every instance and closes every session's sockets; throws what any instance did wrong. */
  async close(): Promise<void> {
    const all = this.#all.splice(0);
    for (const i of all) await i.stop();
    for (const i of all) i.session.end();
    const faults = all.flatMap((i) => {
      const f = i.ctx.faults();
      return f ? [`${i.address}: ${f}`] : [];
    });
    if (faults.length > 0) throw new Error(faults.join('\n'));
  }
}
