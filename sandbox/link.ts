import type { ProtoflyError } from '../core/errors.js';
import type { HostFrame, WorkerFrame } from './channel.js';

/**
 * What the host side of the stubs (sandbox.ts, instance.ts, socket-bridge.ts) needs from the
 * link to the sandbox they run in: the worker link (worker-link.ts), which every host uses, the
 * isolate host too (its `post` hands frames to the isolate instead of a worker's port).
 */

/** The requests a link tracks until answered, and the frame that answers each. */
export interface Answers {
  readonly load: Extract<WorkerFrame, { t: 'loaded' }>;
  readonly ping: Extract<WorkerFrame, { t: 'pong' }>;
}

/** A frame the link's pending table tracks (see {@link Link.request}). */
export type Request = Extract<HostFrame, { t: keyof Answers }>;

/** The frames a link hands on to its receiver: all but its own (heartbeat, answers, start, memory). */
export type StubFrame = Exclude<WorkerFrame, { t: 'ready' | 'pong' | 'loaded' | 'memory' }>;

/** Who a link hands frames to: the sandbox that holds the stubs. */
export interface LinkReceiver {
  receive(frame: StubFrame): void;
  /** The link died, and `err` says why: everything on it fails. Called once. */
  closed(err: ProtoflyError): void;
}

export interface Link {
  /** Names the sandbox in logs and errors ("worker 3", "inline"). */
  readonly label: string;
  /** Resolves once the far side is up; rejects if the link dies first. */
  readonly ready: Promise<void>;
  /** Why the link died, or undefined while it lives. */
  readonly dead: ProtoflyError | undefined;
  /** Binds the receiver; once, before any frame arrives. */
  attach(receiver: LinkReceiver): void;
  /** A fresh number for a package, conversation, session or request: unique on this link. */
  nextId(): number;
  /** Posts a frame nobody waits an answer to; dropped once the link died. */
  post(frame: HostFrame): void;
  /** Posts a request and resolves with its answer; rejects with why the link died, if it does first. */
  request<R extends Request>(frame: R): Promise<Answers[R['t']]>;
}
