/** The Node sandbox hosts: worker threads with SES (the default), and inline for trusted development stubs. */
export { InlineHost, type InlineHostOptions } from './inline-host.js';
export { openWebSocket } from './websocket.js';
export { NodeWorkerHost, type NodeWorkerHostOptions } from './worker-host.js';
