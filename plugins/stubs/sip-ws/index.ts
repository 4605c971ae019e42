import type { Activate } from '../../../core/stub.js';
import { UserAgent } from './user-agent.js';

/**
 * The sip-ws stub: SIP over WebSocket (RFC 7118) to a domain's SIP server, such as Kamailio.
 * Every conversation of one domain and identity shares one user agent (through
 * `ctx.session`): one socket, one registration. See README.md for the layout, the mapping to
 * canonical bodies, and how users of other domains are admitted as guests.
 */
const activate: Activate = (ctx) => {
  const conversation = UserAgent.join(ctx);
  return {
    postMessage: (msg) => conversation.post(msg),
    stop: () => conversation.stop(),
  };
};

export default activate;
