/**
 * `protofly/stub`: what a stub is given and returns (core/stub.ts), and the kit stubs are written
 * with. Everything here is browser-safe and light: no schema validators, nothing of Node, so a
 * stub bundles what it imports of it and stays small (test/stub-bundles.test.ts holds it to that).
 */

/** Addresses: `parseAddress`, `formatAddress`, `domainOf`, `userAddress`, `hypertyAddress`. */
export * from '../core/address.js';
/** The answers given, to give again to a request whose sender lost its answer and sent it again. */
export * from '../core/answers.js';
/** Reconnect delays. */
export * from '../core/backoff.js';
/**
 * Failing with a code: the codes a stub may give (`isStubErrorCode`), `ProtoflyError`; and
 * whether a server's refusal asks to send again (`isRetryable`).
 */
export {
  type ErrorCode,
  isProtoflyError,
  isRetryable,
  isStubErrorCode,
  ProtoflyError,
  type StubErrorCode,
  statusOf,
} from '../core/errors.js';
/** The canonical bodies a stub translates to and from its protocol (a chat, a call's offer, …). */
export type { ConversationBody } from '../core/generated/types.js';
export type { GuestCredentials } from '../core/guest-protocol.js';
export type { Message, RequestMessage, ResponseMessage } from '../core/message.js';
/** Responses: `response(req, code, description?)`, `Code`, reason phrases. */
export * from '../core/response.js';
/** De-duplication of what a reconnect or a live swap delivers twice. */
export * from '../core/seen.js';
export * from '../core/stub.js';
/** A stub's own answer to a request that will not go. */
export * from '../core/stub-kit/answer.js';
/** Credentials from the domain's guest service, for a user of another domain (core/guest-protocol.ts). */
export * from '../core/stub-kit/guest-credentials.js';
/** Handing the runtime what the far side sent: taken, refused, or busy (try later). */
export * from '../core/stub-kit/offer.js';
/** The runtime's refusals of a socket that stand: fail, do not reconnect. */
export * from '../core/stub-kit/refusal.js';
/** One socket (or registration) per domain and identity, shared by the instances. */
export * from '../core/stub-kit/shared-session.js';
