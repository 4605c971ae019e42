/**
 * Every error protofly raises on purpose, in one place (Fastify's `FST_ERR_*` model).
 *
 * A code is stable: programs branch on it, people search for it. The message names the
 * offending field or value; `docs` says what the code means and what to do about it.
 */
export const ERRORS = {
  PF_ERR_ADDRESS:
    'An address is malformed. Addresses are user://<domain>/<name>, hyperty://<domain>/<id>, runtime://<domain>/<id>[/...] or domain://<host>[/...], with a lower-case DNS domain.',
  PF_ERR_SCHEMA:
    'A value does not match its JSON Schema in schemas/. The message gives the JSON pointer of the offending field.',
  PF_ERR_NO_ROUTE: 'No listener on the bus for the destination address, and nothing to answer to.',
  PF_ERR_QUEUE_FULL:
    'A bus route has more undelivered messages than its bound: the sender is faster than the receiver. Slow down or raise queueLimit.',
  PF_ERR_LISTENER:
    'A bus listener threw while handling a message. The sender is not affected; the listener should handle its own errors.',
  PF_ERR_CLOSED: 'The component was closed; it takes no more work.',
  PF_ERR_STATUS:
    'A stub reported a status transition its lifecycle does not allow (created → connecting → live ⇄ disconnected; failed; stopped).',
  PF_ERR_NOT_FOUND:
    'A catalogue has no such plugin, version or package; or a user directory has no such user.',
  PF_ERR_EXISTS: 'Something was to be created under a name that is taken (a user name in a directory).',
  PF_ERR_FETCH: 'A catalogue or package could not be fetched (network error, HTTP error or time-out).',
  PF_ERR_INTEGRITY: "A package's bytes do not match the integrity hash its descriptor names.",
  PF_ERR_SIGNATURE:
    "A descriptor's signature is missing or does not verify against the key it names, or the descriptor has no RFC 8785 canonical form to sign (a lone surrogate, a number beyond JSON's range): detail.pointer names the value.",
  PF_ERR_UNTRUSTED_KEY:
    'The key that signed a descriptor is not trusted for its domain (not pinned, or different from the key recorded on first use).',
  PF_ERR_DESCRIPTOR:
    'A catalogue served another descriptor than the one asked for: another kind or name, or a version outside the requested range. detail.field names the field, detail.asked and detail.served the values.',
  PF_ERR_ENGINE: "A plugin's engine range does not include this protofly version.",
  PF_ERR_TOO_LARGE: 'A package or message is larger than the limit that applies to it.',
  PF_ERR_DOWNGRADE: 'A catalogue offered an older version than one already seen for the same name and range.',
  PF_ERR_ENDPOINT: "A stub tried to connect to a URL outside its descriptor's endpoint allow-list.",
  PF_ERR_POLICY:
    "A descriptor asked for more than the runtime policy grants (schemas/runtime-policy.schema.json): an endpoint on another domain's host or on a loopback, private, link-local or special address, a limit over the host's ceiling, a package on another origin, a configuration schema outside the safe subset; or a stub connected to an address the policy refuses. The message names the policy key and the descriptor field.",
  PF_ERR_SPOOF:
    'A message carried a `from` address its sender was not given (a stub, or a client of a messaging node), or a response came from another address than the one its request was sent to.',
  PF_ERR_SANDBOX:
    'A stub failed inside its sandbox: it threw, crashed its worker, or could not be evaluated.',
  PF_ERR_WATCHDOG: 'A stub stopped answering its heartbeat (a busy loop) and was terminated.',
  PF_ERR_MEMORY: "A stub's sandbox went over its memory limit and was terminated.",
  PF_ERR_FLOOD:
    'A sender went over its message rate or buffer bound (or the request rate per user or address at a token endpoint: HTTP 429); the excess was refused, not queued without bound.',
  PF_ERR_UNTRUSTED_DOMAIN:
    'Code from a domain that is not trusted for the requested isolation (e.g. the inline host) was refused.',
  PF_ERR_AUTH:
    "An identity token is missing, malformed, expired or does not verify against its issuer domain's keys; or a log-in at a token endpoint was refused (wrong user or password, refresh token unknown, used or expired: HTTP 400 invalid_grant).",
  PF_ERR_LOCKED:
    'Too many failed log-ins for this user or from this address: the token endpoint refuses every log-in for them until the lock-out ends (HTTP 429 with Retry-After; detail.retryAfterSeconds).',
  PF_ERR_FORBIDDEN: 'The peer is authenticated but not allowed to do this (e.g. its domain is not admitted).',
  PF_ERR_FRAME: 'A wire frame is malformed (not JSON, wrong shape, nested too deep) or too large.',
  PF_ERR_INTERNAL:
    "Handling a connection's frame failed unexpectedly; that connection was closed (1011), every other one is served on. Reconnect; report it if it repeats.",
  PF_ERR_SIP_PARSE:
    'A SIP message, header value or URI does not follow the RFC 3261 grammar (or a rule RFC 3261 states for it). The message names the part; detail.status is the response a UAS sends (400, or 505 for another SIP version).',
  PF_ERR_DELIVERY:
    'A message was refused by the far side or its server (4xx/5xx), or not acknowledged in time (408). detail.code has the response code.',
  PF_ERR_CONVERSATION: 'A conversation could not be opened, or was used after it ended.',
  PF_ERR_SWAP:
    'A live swap of a conversation to a new stub version failed: the old version gave no valid snapshot, or the new one threw, failed or did not go live in time. The conversation was rolled back to the version it ran; detail names both.',
  PF_ERR_STORAGE:
    'A data directory or store cannot be written or read: the disk is full (ENOSPC, EDQUOT), read-only (EROFS) or not ours (EACCES, EPERM). detail names the path and the system code; free space or fix the permissions. A cache that cannot be written is only logged.',
  PF_ERR_FOREIGN_KEY:
    "A catalogue directory holds what another key signed (another domain's, or another key of this domain): it is not published into with this one.",
  PF_ERR_CONFIG: 'A configuration value is missing or wrong. The message names the setting.',
  PF_ERR_USAGE: 'A command was called with wrong arguments. See `protofly --help`.',
} as const;

/** A stable protofly error code. */
export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable {@link ErrorCode}, a message naming what is wrong, and a docs line. */
/** Marks the errors of every copy of this module: a backend runs in-process with its own bundled copy. */
const BRAND = Symbol.for('protofly.error');

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
    return ERRORS[this.code];
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
