import type { Activate } from '../../../core/stub.js';
import { Connection } from './connection.js';

/**
 * The json-ws stub: protofly's native protocol, spoken to a protofly messaging node
 * (schemas/json-ws-frame.schema.json). Every conversation of one domain and identity shares
 * one socket (through `ctx.session`); see connection.ts for reconnection, resending and
 * de-duplication.
 */
const activate: Activate = (ctx) => {
  const conversation = Connection.join(ctx);
  return {
    postMessage: (msg) => conversation.post(msg),
    stop: () => conversation.stop(),
    snapshot: () => conversation.snapshot(),
  };
};

export default activate;
