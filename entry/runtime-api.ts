/**
 * What an app sees of a runtime, whichever platform runs it: the entries `protofly` (Node) and
 * `protofly/browser` both export this, beside their own `create…Runtime`.
 */
export * from '../core/address.js';
export * from '../core/errors.js';
export type { ConversationBody, Message, ResponseMessage } from '../core/generated/types.js';
export type { StubStatus } from '../core/stub.js';
export {
  type CodeRequest,
  type CodeRequestOptions,
  codeGrantForm,
  codeRequest,
} from '../runtime/code-request.js';
export {
  type Carrier,
  Conversation,
  type ConversationEvents,
  type Incoming,
} from '../runtime/conversation.js';
export { PasswordLogin, type PasswordLoginOptions } from '../runtime/password-login.js';
export {
  type RegisterOptions,
  Runtime,
  type RuntimeEvents,
  type RuntimeIdentity,
  type RuntimeOptions,
  type UpdateEvent,
  type UpdatePolicy,
  type VersionEvent,
} from '../runtime/runtime.js';
