/**
 * `protofly/browser`: the runtime in a web page. The same `Runtime` and `Conversation` as the
 * package's main entry, with stubs in Web Workers (`dist/browser-worker.js`, served from the
 * page's origin) and what must outlive a page load in IndexedDB.
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
export { BrowserWorkerHost, type BrowserWorkerHostOptions } from '../sandbox/browser/worker-host.js';
export { type BrowserRuntime, type BrowserRuntimeOptions, createBrowserRuntime } from './browser-runtime.js';
export type { PasswordIdentity } from './node-runtime.js';
