/**
 * Every error protofly raises on purpose, in one place (Fastify's `FST_ERR_*` model).
 *
 * A code is stable: programs branch on it, people search for it. The message names the
 * offending field or value; `docs` says what the code means and what to do about it. Each code
 * also owns its wire meaning: what every server, node and stub answers or closes with for it,
 * so that no part keeps a table of its own.
 */

/** What one code means, to people and on the wire. */
export interface ErrorSpec {
  /** What the code means and what to do about it. */
  readonly docs: string;
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
  PF_ERR_ADDRESS: {
    status: 400,
    docs: 'An address is malformed. Addresses are user://<domain>/<name>, hyperty://<domain>/<id>, runtime://<domain>/<id>[/...] or domain://<host>[/...], with a lower-case DNS domain.',
  },
  PF_ERR_SCHEMA: {
    status: 400,
    docs: 'A value does not match its JSON Schema in schemas/. The message gives the JSON pointer of the offending field.',
  },
  PF_ERR_NO_ROUTE: {
    status: 404,
    docs: 'No listener on the bus for the destination address, and nothing to answer to.',
  },
  PF_ERR_QUEUE_FULL: {
    status: 503,
    docs: 'A bus route has more undelivered messages than its bound: the sender is faster than the receiver. Slow down or raise queueLimit.',
  },
  PF_ERR_LISTENER: {
    status: 500,
    docs: 'A bus listener threw while handling a message. The sender is not affected; the listener should handle its own errors.',
  },
  PF_ERR_CLOSED: {
    status: 503,
    docs: 'The component was closed; it takes no more work.',
  },
  PF_ERR_STATUS: {
    status: 500,
    docs: 'A stub reported a status transition its lifecycle does not allow (created → connecting → live ⇄ disconnected; failed; stopped).',
  },
  PF_ERR_NOT_FOUND: {
    status: 404,
    stub: true,
    docs: 'A catalogue has no such plugin, version or package; or a user directory has no such user.',
  },
  PF_ERR_EXISTS: {
    status: 409,
    docs: 'Something was to be created under a name that is taken (a user name in a directory).',
  },
  PF_ERR_FETCH: {
    status: 502,
    close: 1013,
    stub: true,
    docs: 'A catalogue or package could not be fetched (network error, HTTP error or time-out).',
  },
  PF_ERR_INTEGRITY: {
    status: 502,
    docs: "A package's bytes do not match the integrity hash its descriptor names.",
  },
  PF_ERR_SIGNATURE: {
    status: 502,
    docs: "A descriptor's signature is missing or does not verify against the key it names, or the descriptor has no RFC 8785 canonical form to sign (a lone surrogate, a number beyond JSON's range): detail.pointer names the value.",
  },
  PF_ERR_UNTRUSTED_KEY: {
    status: 502,
    docs: 'The key that signed a descriptor is not trusted for its domain (not pinned, or different from the key recorded on first use).',
  },
  PF_ERR_DESCRIPTOR: {
    status: 502,
    docs: 'A catalogue served another descriptor than the one asked for: another kind or name, or a version outside the requested range. detail.field names the field, detail.asked and detail.served the values.',
  },
  PF_ERR_ENGINE: {
    status: 502,
    docs: "A plugin's engine range does not include this protofly version.",
  },
  PF_ERR_TOO_LARGE: {
    status: 413,
    close: 1009,
    docs: "A package, message or group is larger than the limit that applies to it (a group's subscribers; the groups one connection joined): a bound, not a rate, so the same request is refused again until the count goes down.",
  },
  PF_ERR_DOWNGRADE: {
    status: 502,
    docs: 'A catalogue offered an older version than one already seen for the same name and range.',
  },
  PF_ERR_ENDPOINT: {
    status: 403,
    docs: "A stub tried to connect to a URL outside its descriptor's endpoint allow-list.",
  },
  PF_ERR_POLICY: {
    status: 403,
    docs: "A descriptor asked for more than the runtime policy grants (schemas/runtime-policy.schema.json): an endpoint on another domain's host or on a loopback, private, link-local or special address, a limit over the host's ceiling, a package on another origin, a configuration schema outside the safe subset; or a stub connected to an address the policy refuses. The message names the policy key and the descriptor field.",
  },
  PF_ERR_TLS: {
    status: 502,
    stub: true,
    docs: "A `wss://` server presented a certificate the runtime does not trust (no chain to a trusted certificate authority, another host's name, expired): the connection was refused, and the stub does not retry it. The message names the URL and the TLS error. A Node runtime trusts another certificate authority through its policy's `tls.ca` (schemas/runtime-policy.schema.json); stubs pass the code on as the far side's.",
  },
  PF_ERR_SPOOF: {
    status: 403,
    docs: 'A message carried a `from` address its sender was not given (a stub, or a client of a messaging node), or a response came from another address than the one its request was sent to.',
  },
  PF_ERR_SANDBOX: {
    status: 500,
    docs: 'A stub failed inside its sandbox: it threw, crashed its worker, or could not be evaluated.',
  },
  PF_ERR_WATCHDOG: {
    status: 500,
    docs: 'A stub stopped answering its heartbeat (a busy loop) and was terminated.',
  },
  PF_ERR_MEMORY: {
    status: 500,
    docs: "A stub's sandbox went over its memory limit and was terminated.",
  },
  PF_ERR_FLOOD: {
    status: 429,
    close: 1013,
    retry: true,
    docs: "A sender went over its message rate or buffer bound (or a rate of the domain's policy rules, or the request rate per user or address at a token endpoint: HTTP 429); the excess was refused, not queued without bound.",
  },
  PF_ERR_BUSY: {
    status: 503,
    close: 1013,
    retry: true,
    docs: "A server is at a capacity bound that is not the caller's doing (every place on a catalogue's update stream is taken): try again later, or poll.",
  },
  PF_ERR_UNTRUSTED_DOMAIN: {
    status: 403,
    docs: 'Code from a domain that is not trusted for the requested isolation (e.g. the inline host) was refused.',
  },
  PF_ERR_AUTH: {
    status: 401,
    close: 4401,
    stub: true,
    docs: "An identity token is missing, malformed, expired or does not verify against its issuer domain's keys; or a log-in at a token endpoint was refused (wrong user or password, refresh token unknown, used or expired: HTTP 400 invalid_grant).",
  },
  PF_ERR_LOCKED: {
    status: 429,
    docs: 'Too many failed log-ins for this user or from this address: the token endpoint refuses every log-in for them until the lock-out ends (HTTP 429 with Retry-After; detail.retryAfterSeconds).',
  },
  PF_ERR_FORBIDDEN: {
    status: 403,
    close: 4403,
    stub: true,
    docs: "The peer is authenticated but not allowed to do this (e.g. its domain is not admitted). A message the domain's policy rules refuse (a `deny` rule, or no rule and `default: deny`) is answered with it by the messaging node, without closing (an `err` frame: the app's request gets response code 403 and the code and rule in its description); a guest service closes the connection asking for guest credentials with 4403 instead of issuing them.",
  },
  PF_ERR_RULES: {
    status: 400,
    docs: "A domain's policy rules fit their schema but cannot be used: a rule names a group that is not defined, two rules share a name (or one is named `default`), a deny rule has a rate, a time zone is not known. The message gives the JSON pointer; the rules in force are unchanged.",
  },
  PF_ERR_ORIGIN: {
    status: 403,
    docs: "A web page's origin (its Origin header) is not among those the domain lets use this service from a browser (domain config `browsers`): the token endpoint refuses it with 403 before reading the request, the messaging node at the WebSocket upgrade. In a page this shows as a failed fetch or WebSocket (browsers hide the refusal); the server's log names the origin. Add the page's origin to the domain's config.",
  },
  PF_ERR_FRAME: {
    status: 400,
    close: 4400,
    stub: true,
    docs: 'A wire frame is malformed (not JSON, wrong shape, nested too deep) or too large.',
  },
  PF_ERR_INTERNAL: {
    status: 500,
    close: 1011,
    docs: "Handling a connection's frame failed unexpectedly; that connection was closed (1011), every other one is served on. Reconnect; report it if it repeats.",
  },
  PF_ERR_TIMEOUT: {
    status: 408,
    close: 1008,
    docs: "A peer did not do in time what it had to: a new connection to a messaging node did not authenticate within authTimeoutMs; or a stub did not become reachable at its domain (`live`) within the runtime's liveTimeoutMs, so register() or conversation() gave it up. Nothing was refused for good: try again.",
  },
  PF_ERR_METHOD: {
    status: 405,
    docs: 'An HTTP endpoint was asked with a method it does not take; the Allow header names those it does.',
  },
  PF_ERR_SIP_PARSE: {
    status: 400,
    stub: true,
    docs: 'A SIP message, header value or URI does not follow the RFC 3261 grammar (or a rule RFC 3261 states for it). The message names the part; detail.status is the response a UAS sends (400, or 505 for another SIP version).',
  },
  PF_ERR_DELIVERY: {
    status: 503,
    stub: true,
    docs: 'A message was refused by the far side or its server (4xx/5xx), or not acknowledged in time (408). detail.code has the response code, detail.description its description.',
  },
  PF_ERR_CONVERSATION: {
    status: 503,
    docs: 'A conversation could not be opened, or was used after it ended. With detail.unknown, a message it sent has no answer and will have none (the conversation ended, or its stub gave up waiting on the wire): it may or may not have arrived.',
  },
  PF_ERR_SWAP: {
    status: 500,
    docs: 'A live swap of a conversation to a new stub version failed: the old version gave no valid snapshot, or the new one threw, failed or did not go live in time. The conversation was rolled back to the version it ran; detail names both.',
  },
  PF_ERR_STORAGE: {
    status: 500,
    docs: 'A data directory or store cannot be written or read: the disk is full (ENOSPC, EDQUOT), read-only (EROFS) or not ours (EACCES, EPERM), or a file is unreadable for any reason but being absent (a directory where a file belongs: EISDIR; a failing disk: EIO): only ENOENT means absent, so nothing unreadable is overwritten. detail names the path and the system code; free space or fix the permissions. A cache that cannot be written is only logged.',
  },
  PF_ERR_UNAVAILABLE: {
    status: 503,
    retry: true,
    docs: "A service the messaging node needs on a message's way (the location, cluster or hold store: Redis) failed or is failing over, or a message held in Redis reached fewer replicas than cluster-redis holdReplicas asks within holdReplicaTimeoutMs (WAIT). The message was not acknowledged, and what its sender sent after it to the same recipient is refused with this code too until it comes again: send them again, in order, after a pause (json-ws does). The message names the step that failed.",
  },
  PF_ERR_DIRECTORY: {
    status: 502,
    docs: 'The directory an address book is synchronised from (LDAP) could not be read: unreachable, its bind refused, a search failed, or more entries than the bound. The node keeps answering from its last good copy; its status and metrics say the copy is stale.',
  },
  PF_ERR_FOREIGN_KEY: {
    status: 409,
    docs: "A catalogue directory holds what another key signed (another domain's, or another key of this domain): it is not published into with this one.",
  },
  PF_ERR_CONFIG: {
    status: 500,
    stub: true,
    docs: 'A configuration value is missing or wrong. The message names the setting.',
  },
  PF_ERR_USAGE: {
    status: 400,
    docs: 'A command was called with wrong arguments. See `protofly --help`.',
  },
  PF_ERR_DEMO: {
    status: 500,
    docs: 'A demo (`protofly demo`, `demo-sip`, `demo-swap`) failed on an error that carries no code of its own; the message is its text, the report has the rest.',
  },
  PF_ERR_NETNS: {
    status: 500,
    docs: 'Network namespaces cannot be made on this machine (`protofly demo --cluster`, the tests over network hosts): they need Linux, iproute2 (`ip`) and root (CAP_NET_ADMIN, CAP_SYS_ADMIN). The message gives what `ip` said; nothing made is left behind.',
  },
  PF_ERR_BROWSER: {
    status: 500,
    docs: '`protofly demo --web --headless` has no browser to drive: Chromium is not at the path given (`--chromium`, default /usr/bin/chromium) or playwright-core is not installed. The message names which and what to install.',
  },
} as const satisfies Readonly<Record<string, ErrorSpec>>;

/** A stable protofly error code. */
export type ErrorCode = keyof typeof ERRORS;

/** A code a stub may fail with (see {@link ErrorSpec.stub}). */
export type StubErrorCode = {
  [C in ErrorCode]: (typeof ERRORS)[C] extends { readonly stub: true } ? C : never;
}[ErrorCode];

/** Marks the errors of every copy of this module: a backend runs in-process with its own bundled copy. */
const BRAND = Symbol.for('protofly.error');

/** An error with a stable {@link ErrorCode}, a message naming what is wrong, and a docs line. */
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

  /** What the code means and what to do about it. */
  get docs(): string {
    return ERRORS[this.code].docs;
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
