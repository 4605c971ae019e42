/**
 * `protofly`, the package's main entry: a runtime for apps on Node. It opens conversations with
 * users of any domain by loading that domain's stub, verified, into a worker sandbox.
 */
export * from '../core/address.js';
export * from '../core/errors.js';
export type { ConversationBody, Message, ResponseMessage } from '../core/generated/types.js';
export type { StubStatus } from '../core/stub.js';
export {
  type Carrier,
  Conversation,
  type ConversationEvents,
  type Incoming,
} from '../runtime/conversation.js';
export { PasswordLogin, type PasswordLoginOptions } from '../runtime/password-login.js';
export {
  Runtime,
  type RuntimeEvents,
  type RuntimeIdentity,
  type RuntimeOptions,
  type UpdateEvent,
  type UpdatePolicy,
  type VersionEvent,
} from '../runtime/runtime.js';
export {
  createNodeRuntime,
  type NodeRuntime,
  type NodeRuntimeOptions,
  type PasswordIdentity,
} from './node-runtime.js';
