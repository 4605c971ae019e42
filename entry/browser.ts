/**
 * `protofly/browser`: the runtime in a web page. The same `Runtime` and `Conversation` as the
 * package's main entry, with stubs in Web Workers (`dist/browser-worker.js`, served from the
 * page's origin) and what must outlive a page load in IndexedDB.
 */

export { BrowserWorkerHost, type BrowserWorkerHostOptions } from '../sandbox/browser/worker-host.js';
export { type BrowserRuntime, type BrowserRuntimeOptions, createBrowserRuntime } from './browser-runtime.js';
export type { PasswordIdentity } from './node-runtime.js';
export * from './runtime-api.js';
