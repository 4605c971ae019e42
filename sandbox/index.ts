/** The sandbox: where stub code runs, isolated. Runtime-neutral parts; the Node hosts are in `./node/index.js`. */
export type { StubLimits } from './channel.js';
export { DEFAULT_LIMITS } from './defaults.js';
export { compileEndpoints, type EndpointMatcher } from './endpoint.js';
export type {
  ConversationContext,
  MeasuredHost,
  SandboxHost,
  SandboxLogger,
  SandboxMemory,
  StubHandle,
  StubHandleDelegate,
} from './host.js';
export type { HostSocket, SocketEvents, SocketFactory, SocketOptions } from './sockets.js';
