import { ProtoflyError, type StubErrorCode } from './errors.js';
import type { Message, ResponseMessage } from './message.js';

/**
 * The stub contract. A stub package's default export is {@link Activate}: the sandbox
 * calls it once per conversation with a {@link StubContext}, the stub's only door to the
 * world, and gets back a {@link Stub}.
 */

/**
 * A stub's lifecycle, a closed union: `created → connecting → live ⇄ disconnected`,
 * then `failed` or `stopped`. (reTHINK drifted between "connected" and "live"; we say live.)
 *
 * `live` means reachable at its domain: from that moment the far side delivers to this user
 * what peers send, and takes what the stub sends (sip-ws: the 200 to its REGISTER, listing its
 * binding; json-ws: the node's `ready`). Not when a socket opened: `runtime.register()` and
 * `runtime.conversation()` resolve on the first `live`, and a peer may write at once. `failed`
 * before it rejects them with the stub's code (see {@link StubContext.status}).
 */
export type StubStatus = 'created' | 'connecting' | 'live' | 'disconnected' | 'failed' | 'stopped';

/** Which status may follow which. */
export const STATUS_TRANSITIONS: Readonly<Record<StubStatus, readonly StubStatus[]>> = {
  created: ['connecting', 'live', 'failed', 'stopped'],
  connecting: ['live', 'disconnected', 'failed', 'stopped'],
  live: ['disconnected', 'failed', 'stopped'],
  disconnected: ['connecting', 'live', 'failed', 'stopped'],
  failed: ['stopped'],
  stopped: [],
};

/**
 * Checks a status transition.
 *
 * @throws ProtoflyError `PF_ERR_STATUS` naming both states.
 */
export function assertTransition(from: StubStatus, to: StubStatus): void {
  if (!STATUS_TRANSITIONS[from]?.includes(to)) {
    throw new ProtoflyError('PF_ERR_STATUS', `a stub cannot go from '${from}' to '${to}'`, { from, to });
  }
}

/** What a stub hears from a socket it opened. */
export interface SocketDelegate {
  onOpen?(protocol: string): void;
  onMessage(data: string): void;
  onClose?(code: number, reason: string): void;
  onError?(message: string): void;
}

/** The small socket a stub gets from `ctx.connect`; the host owns the real one. */
export interface StubSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A stub's log. The host rate-limits it and tags every line with the stub and conversation. */
export interface StubLog {
  debug(msg: string, data?: unknown): void;
  info(msg: string, data?: unknown): void;
  warn(msg: string, data?: unknown): void;
  error(msg: string, data?: unknown): void;
}

/** State that the instances of one stub share per domain and identity (one socket, one registration). */
export interface StubSession {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

/** Everything a stub may do. Nothing else is reachable from inside the sandbox. */
export interface StubContext<Config = Readonly<Record<string, unknown>>> {
  /** The domain whose protocol this stub speaks. */
  readonly domain: string;
  /** Who the runtime is: the local user's address, and the token that proves it. */
  readonly identity: { readonly address: string; readonly token?: string };
  /**
   * The peer this instance carries the conversation with: the one address it may send from.
   * Undefined for the inbox instance, which may send from any peer and so takes the
   * conversations peers open (a stub sharing one connection needs to know which is which).
   */
  readonly peer?: string;
  /**
   * When this instance takes over a running conversation from another version of the stub
   * (a live swap): what that instance's {@link Stub.snapshot} returned, as plain JSON (hardened).
   * Undefined for a new conversation. A stub must check its shape: an older or newer version
   * wrote it.
   */
  readonly snapshot?: unknown;
  /** Configuration, validated against the descriptor's configuration schema. */
  readonly config: Config;
  /** Shared per domain and identity across this stub's instances. */
  readonly session: StubSession;
  readonly log: StubLog;
  /** Puts a message on the runtime bus. Its `from` must be an address this conversation was given. */
  send(msg: Message): void;
  /**
   * Opens a WebSocket; only endpoints in the descriptor's allow-list are allowed. A socket the
   * runtime refuses (its policy: an address class, plain `ws://`; a `wss://` certificate it does
   * not trust) gets an error with the coded message, then a close with code 1006 and the error
   * code (`PF_ERR_POLICY`, `PF_ERR_TLS`...) as reason: no peer can send 1006 (RFC 6455 §7.4.1).
   */
  connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket;
  /**
   * Reports a lifecycle transition. `live` only once reachable at the domain (see
   * {@link StubStatus}). With `failed`, `code` says why in the terms the app branches on
   * (`PF_ERR_AUTH`: the far side refused the credentials) and `detail` names what was refused:
   * the app gets that code, from `register()` or `conversation()` when it comes before `live`.
   * Only the stub-facing codes of core/errors.ts (`stub: true`) are taken; the host refuses any
   * other, and a code with another status (`PF_ERR_STATUS`). A stub that says neither is given
   * up by the runtime after its `liveTimeoutMs` (`PF_ERR_TIMEOUT`).
   */
  status(status: StubStatus, detail?: string, code?: StubErrorCode): void;
  /** Timers, all cleared when the stub stops. */
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(id: number): void;
  setInterval(fn: () => void, ms: number): number;
  clearInterval(id: number): void;
}

/** A running stub instance: one per conversation. */
export interface Stub {
  /**
   * A message from the runtime bus for the far side. A request is answered once, with a final
   * response: the far side's, or the stub's own when it will not deliver it (e.g. 503, 413),
   * or its own marked {@link UNKNOWN} when it went on the wire and no answer will come.
   * While it cannot send (its connection is down) it holds the request: no deadline applies, and
   * a provisional 1xx is not needed. An `execute` of method {@link WITHDRAW} is for the stub
   * itself, never the wire: see {@link WITHDRAW}.
   */
  postMessage(msg: Message): void;
  /** Ends this instance: close what it opened for this conversation. */
  stop(): void | Promise<void>;
  /**
   * State to hand to the instance of another version that takes this conversation over in a
   * live swap (it gets it as `ctx.snapshot`). JSON only, at most the sandbox's frame limit.
   * Called while the runtime holds the conversation's outbound messages; this instance keeps
   * running until the new one is live (and again if the swap is rolled back), so it must not
   * change anything here: only describe what the new instance needs (e.g. unacknowledged
   * messages to resend, which the far side de-duplicates).
   */
  snapshot?(): unknown;
}

/** A stub package's default export. */
export type Activate = (ctx: StubContext) => Stub | Promise<Stub>;

/**
 * The `execute` method by which the runtime asks a stub to withdraw a request (a send's deadline
 * passed): `{type: 'execute', from, to, body: {method: WITHDRAW, params: {id}}}`, from and to as
 * in the request. The stub answers 200 when the request will not go (it never was on the wire:
 * taken out, and never answered), 409 when it was on the wire already (its own response will
 * say what became of it), 404 when it holds no such request. Any other answer counts as 409.
 */
export const WITHDRAW = 'protofly.withdraw';

/** The id of the request `msg` withdraws, if it is a withdrawal (see {@link WITHDRAW}). */
export function withdrawnId(msg: Message): string | undefined {
  if (msg.type !== 'execute' || msg.body.method !== WITHDRAW) return undefined;
  const id = (msg.body.params as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The `value` of a stub's own final response (3xx-6xx) to a request that went on the wire and
 * whose fate it cannot learn: no answer came and none will (a protocol timer ran out, the
 * connection was lost after sending), so the far side may have it. The app's send() then
 * rejects as when its conversation ends with the request unanswered (`detail.unknown`), never
 * as not delivered: sending it again may make a duplicate.
 */
export const UNKNOWN = Object.freeze({ unknown: true } as const);

/** Whether `res` is a stub's answer that the fate of its request is unknown (see {@link UNKNOWN}). */
export function isUnknown(res: ResponseMessage): boolean {
  return res.body.code >= 300 && (res.body.value as { unknown?: unknown } | undefined)?.unknown === true;
}
