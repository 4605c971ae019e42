import type { SandboxHost } from '../core/host.js';

/**
 * The host interface lives in core (the runtime uses it); the sandbox's own additions are its
 * logger and the measure of what its sandboxes hold.
 */
export type { ConversationContext, SandboxHost, StubHandle, StubHandleDelegate } from '../core/host.js';

/** Where hosts write; pino's `(fields, message)` shape, so a pino logger fits as is. */
export interface SandboxLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** One sandbox's memory (a worker, an isolate), from {@link MeasuredHost.measure}. */
export interface SandboxMemory {
  /** The sandbox's label ("worker 3", "isolate 2"). */
  readonly sandbox: string;
  /** Packages evaluated in it, as `domain/name@version`. */
  readonly packages: readonly string[];
  /** Bytes of JS heap in use after full collections. */
  readonly heap: number;
  /** Bytes held outside the heap (array buffers). */
  readonly external: number;
}

/** A host whose sandboxes have heaps of their own, which it can read (the worker and isolate hosts). */
export interface MeasuredHost extends SandboxHost {
  /**
   * Each running sandbox's memory after full garbage collections, and the packages evaluated
   * in it. Forcing the collections costs up to hundreds of milliseconds per sandbox: for
   * tests, benches and diagnostics, never for the message path.
   */
  measure(): Promise<SandboxMemory[]>;
}
