import type { StubStatus } from '../core/stub.js';

/**
 * The channel between a sandbox host and its worker: every frame either side may post, typed
 * (mediasoup's host/worker channel model). It assumes nothing but `postMessage` of plain
 * data, so a Node worker thread, a browser Web Worker and the inline host's in-thread port
 * all carry it unchanged.
 *
 * Every frame that costs credit names its session, so the receiver can acknowledge it even
 * when the conversation or socket it was about has ended meanwhile.
 *
 * Numbers name things on one channel: `pkg` a package version evaluated in the worker, `cid`
 * a conversation (one stub instance), `session` what a stub's instances share per
 * (package, domain, identity), `sock` a WebSocket the host holds for a stub. Messages and
 * socket data cross as JSON text: its length bounds what a frame costs, it cannot carry
 * anything but JSON, and the receiver parses its own copy.
 *
 * Flow control is credit based, per session and per direction: a sender may have at most
 * `windowBytes` of frame cost unacknowledged, and the receiver acknowledges every half window
 * it has processed. The worker enforces its side in the supervisor beneath the stubs'
 * compartments, so a stub that floods is refused at the source and host memory stays bounded.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The levels, for checking a frame's `level`. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Limits the host gives a worker when it starts; the worker enforces them on its stubs. */
export interface StubLimits {
  /** Frame cost one session may have unacknowledged in each direction. */
  readonly windowBytes: number;
  /** Largest message or socket text one frame may carry, in UTF-16 code units. */
  readonly maxFrameBytes: number;
  /** Log lines per second one conversation may write, and its burst. */
  readonly logPerSecond: number;
  readonly logBurst: number;
  /** WebSockets one session may hold open. */
  readonly maxSocketsPerSession: number;
  /** Timers one instance may have pending. */
  readonly maxTimers: number;
  /** Messages (`ctx.send`) one instance may send per second, with bursts of one second's worth. */
  readonly messagesPerSecond: number;
  /** How long `activate` and `stop` may take to settle, in ms. */
  readonly activateTimeoutMs: number;
  readonly stopTimeoutMs: number;
}

/**
 * The limits a package's descriptor may lower (its `constraints`), each at most the host's:
 * selected by the host when it loads the package, enforced by both sides.
 */
export type PackageLimits = Pick<StubLimits, 'maxSocketsPerSession' | 'maxTimers' | 'messagesPerSecond'>;

/** Longest log line or log data (as JSON) that crosses, in UTF-16 code units; the rest is cut. */
export const MAX_LOG_TEXT = 4096;

/** Fixed cost of a frame on top of its text, so that empty frames are not free. */
export const FRAME_COST = 64;

/**
 * What a frame costs against its session's window, computed the same way on both sides so
 * that acknowledgements return exactly what was taken. Control frames (load, activate, ack,
 * ping, ...) are bounded by construction and cost nothing.
 */
export function costOf(frame: HostFrame | WorkerFrame): number {
  switch (frame.t) {
    case 'send':
    case 'deliver':
      return FRAME_COST + frame.json.length;
    case 'socketSend':
      return FRAME_COST + frame.data.length;
    case 'log':
      return FRAME_COST + frame.line.length + (frame.data?.length ?? 0);
    case 'connect':
      return FRAME_COST + frame.url.length;
    case 'status':
      return FRAME_COST + (frame.detail?.length ?? 0) + (frame.code?.length ?? 0);
    case 'socket':
      return FRAME_COST + (frame.event.type === 'message' ? frame.event.data.length : 0);
    case 'socketClose':
      return FRAME_COST;
    default:
      return 0;
  }
}

/** The identity a conversation runs as. */
export interface FrameIdentity {
  readonly address: string;
  readonly token?: string;
}

/** What the host's socket reports, forwarded to the stub's delegate. */
export type SocketEvent =
  | { readonly type: 'open'; readonly protocol: string }
  | { readonly type: 'message'; readonly data: string }
  | { readonly type: 'close'; readonly code: number; readonly reason: string }
  | { readonly type: 'error'; readonly message: string };

/** Host → worker. */
export type HostFrame =
  | { readonly t: 'init'; readonly limits: StubLimits }
  /** Evaluate a package version in a compartment of its own. `script` evaluates to `function (module, exports, require)`. */
  | {
      readonly t: 'load';
      readonly pkg: number;
      readonly name: string;
      readonly script: string;
      readonly endpoints: readonly string[];
      readonly limits: PackageLimits;
    }
  | {
      readonly t: 'activate';
      readonly cid: number;
      readonly pkg: number;
      readonly session: number;
      readonly domain: string;
      readonly identity: FrameIdentity;
      /** The conversation's peer (`ctx.peer`); absent for the inbox. */
      readonly peer?: string;
      readonly config: Readonly<Record<string, unknown>>;
      /** `ctx.snapshot` as JSON: what another version's instance handed over in a live swap. */
      readonly snapshot?: string;
    }
  | { readonly t: 'deliver'; readonly cid: number; readonly session: number; readonly json: string }
  | { readonly t: 'stop'; readonly cid: number }
  | { readonly t: 'snapshot'; readonly cid: number }
  /** Forget an evaluated package (none of its instances runs): its compartment can be collected. */
  | { readonly t: 'unload'; readonly pkg: number }
  | { readonly t: 'socket'; readonly session: number; readonly sock: number; readonly event: SocketEvent }
  | { readonly t: 'ack'; readonly session: number; readonly bytes: number }
  | { readonly t: 'endSession'; readonly session: number }
  /**
   * Heartbeat; `id` comes back in the pong. With `collect`, the sandbox collects its garbage
   * first, where it can (a child process: the host cannot force it from outside).
   */
  | { readonly t: 'ping'; readonly id: number; readonly collect?: boolean };

/** Where a stub threw. */
export type EntryPoint = 'activate' | 'postMessage' | 'stop' | 'snapshot' | 'timer' | 'socket';

/** Worker → host. */
export type WorkerFrame =
  | { readonly t: 'ready' }
  | { readonly t: 'loaded'; readonly pkg: number; readonly error?: string }
  /** `activate` returned a stub. (When it throws, rejects or returns no stub, `failed` comes instead.) */
  | { readonly t: 'activated'; readonly cid: number }
  | { readonly t: 'send'; readonly cid: number; readonly session: number; readonly json: string }
  | {
      readonly t: 'status';
      readonly cid: number;
      readonly session: number;
      readonly status: StubStatus;
      readonly detail?: string;
      /** Why it failed, a stub-facing code; the host checks it again (see core/stub.ts). */
      readonly code?: string;
    }
  | {
      readonly t: 'log';
      readonly cid: number;
      readonly session: number;
      readonly level: LogLevel;
      readonly line: string;
      /** The stub's data as JSON, cut to the frame limit. */
      readonly data?: string;
      /** Lines dropped by the rate limit since the last one that passed. */
      readonly dropped?: number;
    }
  | {
      readonly t: 'connect';
      readonly cid: number;
      readonly session: number;
      readonly sock: number;
      readonly url: string;
      readonly protocols: readonly string[];
    }
  | { readonly t: 'socketSend'; readonly session: number; readonly sock: number; readonly data: string }
  | {
      readonly t: 'socketClose';
      readonly session: number;
      readonly sock: number;
      readonly code?: number;
      readonly reason?: string;
    }
  /** The stub threw (or rejected) in an entry point; the worker has ended the instance. */
  | { readonly t: 'failed'; readonly cid: number; readonly where: EntryPoint; readonly error: string }
  | { readonly t: 'stopped'; readonly cid: number; readonly error?: string }
  /**
   * The stub's snapshot as JSON; absent when it has none. `error` when it is over the frame
   * limit: refused, the instance goes on. (A snapshot that throws fails the conversation.)
   */
  | { readonly t: 'snapshot'; readonly cid: number; readonly json?: string; readonly error?: string }
  | { readonly t: 'ack'; readonly session: number; readonly bytes: number }
  /** A stub of `cid` went over its session's window; what it tried was refused. Sent once per episode. */
  | { readonly t: 'flood'; readonly cid: number; readonly what: string }
  /** Heartbeat answer to ping `id`: JS heap in use, memory outside it, and unhandled rejections since the last pong. */
  | {
      readonly t: 'pong';
      readonly id: number;
      readonly heap: number;
      readonly external: number;
      readonly rejections: number;
    }
  /**
   * An allocation was refused at the worker's array-buffer limit (see worker/buffers.ts): it
   * would have held `bytes`, and holds `held`. The Node host ends the worker. Sent once.
   */
  | { readonly t: 'memory'; readonly bytes: number; readonly held: number };
