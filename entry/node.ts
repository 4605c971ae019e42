/**
 * `protofly`, the package's main entry: a runtime for apps on Node. It opens conversations with
 * users of any domain by loading that domain's stub, verified, into a worker sandbox.
 */

/** What each error code means, for people; not in `protofly/browser`, to keep a page's script small. */
export { ERROR_DOCS } from '../core/error-docs.js';
export {
  createNodeRuntime,
  type NodeRuntime,
  type NodeRuntimeOptions,
  type PasswordIdentity,
} from './node-runtime.js';
export * from './runtime-api.js';
