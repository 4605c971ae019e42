/**
 * `protofly`, the package's main entry: a runtime for apps on Node. It opens conversations with
 * users of any domain by loading that domain's stub, verified, into a worker sandbox.
 */

export {
  createNodeRuntime,
  type NodeRuntime,
  type NodeRuntimeOptions,
  type PasswordIdentity,
} from './node-runtime.js';
export * from './runtime-api.js';
