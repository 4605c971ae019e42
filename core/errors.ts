/**
 * Every error protofly raises on purpose, in one place (Fastify's `FST_ERR_*` model).
 *
 * A code is stable: programs branch on it, people search for it. The message names the
 * offending field or value; core/error-docs.ts says what each code means and what to do about
 * it. Each code also owns its wire meaning: what every server, node and stub answers or closes
 * with for it, so that no part keeps a table of its own.
 */

/** What one code means on the wire. */
export interface ErrorSpec {
  /**
   * The HTTP status an HTTP endpoint answers with (RFC 9110 §15), which is also the `body.code`
   * of the response message that answers a request refused with it (protofly's response codes
   * are HTTP's).
   */
  readonly status: number;
  /**
   * The WebSocket close code of a connection closed for it, where one is (RFC 6455 §7.4: 1009
   * too big, 1011 internal error, 1013 try again later; 1008 policy; 4000 + status, in the
   * private range, for a refusal the same request will not get past: clients do not reconnect).
   */
  readonly close?: number;
  /**
   * A stub may give it as why it failed (`ctx.status('failed', detail, code)`): the app gets
   * that code. A stub-facing code says what the far side did; a stub that reports any other code
   * (a runtime verdict such as `PF_ERR_POLICY` or `PF_ERR_SIGNATURE`) is refused, so that a
   * remote domain's code cannot pass for the runtime's own judgement.
   */
  readonly stub?: true;
  /**
   * Nothing was taken, for a reason that passes: the same message sent again after a pause may
   * be. A messaging node refuses what the sender sent after it to the same recipient, with the
   * same code, until it comes again, so that order holds; json-ws gives such a message back and
   * sends it again in its place after `retryPauseMs`, and its app waits meanwhile (send() is
   * pending, within its own `timeoutMs` if it set one).
   */
  readonly retry?: true;
}

export const ERRORS = {
  PF_ERR_ADDRESS: { status: 400 },
  PF_ERR_SCHEMA: { status: 400 },
  PF_ERR_NO_ROUTE: { status: 404 },
  PF_ERR_QUEUE_FULL: { status: 503 },
  PF_ERR_LISTENER: { status: 500 },
  PF_ERR_CLOSED: { status: 503 },
  PF_ERR_STATUS: { status: 500 },
  PF_ERR_NOT_FOUND: { status: 404, stub: true },
  PF_ERR_EXISTS: { status: 409 },
  PF_ERR_FETCH: { status: 502, close: 1013, stub: true },
  PF_ERR_INTEGRITY: { status: 502 },
  PF_ERR_SIGNATURE: { status: 502 },
  PF_ERR_UNTRUSTED_KEY: { status: 502 },
  PF_ERR_DESCRIPTOR: { status: 502 },
  PF_ERR_ENGINE: { status: 502 },
  PF_ERR_TOO_LARGE: { status: 413, close: 1009 },
  PF_ERR_DOWNGRADE: { status: 502 },
  PF_ERR_ENDPOINT: { status: 403 },
  PF_ERR_POLICY: { status: 403 },
  PF_ERR_TLS: { status: 502, stub: true },
  PF_ERR_SPOOF: { status: 403 },
  PF_ERR_SANDBOX: { status: 500 },
  PF_ERR_WATCHDOG: { status: 500 },
  PF_ERR_MEMORY: { status: 500 },
  PF_ERR_FLOOD: { status: 429, close: 1013, retry: true },
  PF_ERR_BUSY: { status: 503, close: 1013, retry: true },
  PF_ERR_UNTRUSTED_DOMAIN: { status: 403 },
  PF_ERR_AUTH: { status: 401, close: 4401, stub: true },
  PF_ERR_LOCKED: { status: 429 },
  PF_ERR_FORBIDDEN: { status: 403, close: 4403, stub: true },
  PF_ERR_RULES: { status: 400 },
  PF_ERR_ORIGIN: { status: 403 },
  PF_ERR_FRAME: { status: 400, close: 4400, stub: true },
  PF_ERR_INTERNAL: { status: 500, close: 1011 },
  PF_ERR_TIMEOUT: { status: 408, close: 1008 },
  PF_ERR_METHOD: { status: 405 },
  PF_ERR_SIP_PARSE: { status: 400, stub: true },
  PF_ERR_DELIVERY: { status: 503, stub: true },
  PF_ERR_CONVERSATION: { status: 503 },
  PF_ERR_SWAP: { status: 500 },
  PF_ERR_STORAGE: { status: 500 },
  PF_ERR_UNAVAILABLE: { status: 503, retry: true },
  PF_ERR_DIRECTORY: { status: 502 },
  PF_ERR_FOREIGN_KEY: { status: 409 },
  PF_ERR_CONFIG: { status: 500, stub: true },
  PF_ERR_USAGE: { status: 400 },
  PF_ERR_DEMO: { status: 500 },
  PF_ERR_NETNS: { status: 500 },
  PF_ERR_BROWSER: { status: 500 },
} as const satisfies Readonly<Record<string, ErrorSpec>>;

/** A stable protofly error code. */
export type ErrorCode = keyof typeof ERRORS;

/** A code a stub may fail with (see {@link ErrorSpec.stub}). */
export type StubErrorCode = {
  [C in ErrorCode]: (typeof ERRORS)[C] extends { readonly stub: true } ? C : never;
}[ErrorCode];

/** Marks the errors of every copy of this module: a backend runs in-process with its own bundled copy. */
const BRAND = Symbol.for('protofly.error');

/** An error with a stable {@link ErrorCode} and a message naming what is wrong. */
export class ProtoflyError extends Error {
  override readonly name = 'ProtoflyError';
  readonly [BRAND] = true;
  /** Stable code to branch on. */
  readonly code: ErrorCode;
  /** Structured facts about the failure (the field, the limit, the value...). */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    detail: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.detail = detail;
  }

  /** The HTTP status, and response code, of this error (see {@link ErrorSpec.status}). */
  get status(): number {
    return ERRORS[this.code].status;
  }

  toJSON(): { code: ErrorCode; message: string; detail: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

/**
 * True when `err` is a {@link ProtoflyError}, optionally with the given code; also one thrown
 * by another copy of this module (an in-process backend's), which `instanceof` would miss.
 */
export function isProtoflyError(err: unknown, code?: ErrorCode): err is ProtoflyError {
  return (
    (err as { [BRAND]?: unknown } | null)?.[BRAND] === true &&
    (code === undefined || (err as ProtoflyError).code === code)
  );
}

/** True when `code` is one of the table's: for codes that came over a wire or from a stub. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** True when a stub may fail with `code` (see {@link ErrorSpec.stub}). */
export function isStubErrorCode(code: unknown): code is StubErrorCode {
  return isErrorCode(code) && (ERRORS[code] as ErrorSpec).stub === true;
}

/**
 * The HTTP status, and response code, for an error code, also one that came over a wire:
 * an unknown one is an unexpected failure (`PF_ERR_INTERNAL`'s 500).
 */
export function statusOf(code: string): number {
  return ERRORS[isErrorCode(code) ? code : 'PF_ERR_INTERNAL'].status;
}

/** True when a refusal with `code`, also one that came over a wire, asks to send again (see {@link ErrorSpec.retry}). */
export function isRetryable(code: string): boolean {
  return isErrorCode(code) && (ERRORS[code] as ErrorSpec).retry === true;
}

/**
 * The WebSocket close code for a connection closed for `code`: its own, else by RFC 6455
 * §7.4.1 1011 for a failure of the server's (a 5xx status) and 1008 (the generic refusal) for
 * the rest.
 */
export function closeCodeOf(code: ErrorCode): number {
  const spec: ErrorSpec = ERRORS[code];
  return spec.close ?? (spec.status >= 500 ? 1011 : 1008);
}

/**
 * `err` as a coded error: itself when it is one (from any copy of this module), else a new
 * `code` error with its text, after `context` when given, and `err` as its `cause`, so that
 * nothing about the original is lost.
 */
export function asProtoflyError(err: unknown, code: ErrorCode, context?: string): ProtoflyError {
  if (isProtoflyError(err)) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new ProtoflyError(code, context ? `${context}: ${text}` : text, {}, { cause: err });
}
