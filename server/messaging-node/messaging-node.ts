import { Admission } from './admission.js';
import { CdrRecorder } from './cdr-recorder.js';
import type { ClientSession } from './client-session.js';
import { Directory } from './directory.js';
import { Groups } from './groups.js';
import { Holds } from './holds.js';
import { Lifecycle } from './lifecycle.js';
import { NodeMetrics } from './metrics.js';
import { type MessagingNodeOptions, settingsOf } from './options.js';
import { Outstanding } from './outstanding.js';
import { Presence } from './presence.js';
import { Replies } from './replies.js';
import { Routing } from './routing.js';

export { CLOSE } from './frames.js';

/**
 * The messaging node: protofly's own server for a domain, speaking json-ws
 * (schemas/json-ws-frame.schema.json) to its clients.
 *
 * A client authenticates with its first frame, `{t:'auth', token}`; the connection is then
 * bound to the verified user address, and every message whose `from` is neither that address
 * nor a hyperty address of the user is refused (admission.ts, routing.ts). `user://` messages
 * go to every session of the user (forking), `hyperty://` ones to the newest session holding
 * the address (presence.ts); with no session, they are held for a while (holds.ts). Every
 * message is answered once, by its id in an `ack` or an `err`, in order.
 *
 * Sessions are found through the domain's Location service and reached on other nodes through
 * its Cluster service, so several nodes serve one domain when both are shared (Redis). A
 * message is acknowledged once a session has it or the cluster holds it for the recipient.
 *
 * Group conversations: a session that sends `subscribe` to `domain://msg-node.<domain>/group/<name>`
 * gets every other message its members send there (fan-out, one encoding for all); `unsubscribe`
 * leaves. Who may join is the domain's group policy and the group owner's word (groups.ts).
 * With an address book, `domain://msg-node.<domain>/directory` answers users' searches of it
 * (directory.ts, schemas/address-book.schema.json).
 * A slow consumer is told, dropped (1013), and what was bound for it is held for its user
 * (routing.ts).
 *
 * No input stops the node: whatever throws while a session's frame is handled closes that
 * session alone (1011, PF_ERR_INTERNAL). Connections not yet authenticated are bounded apart and
 * get authTimeoutMs to authenticate; only authenticated ones count against maxConnections
 * (admission.ts). Heartbeat, rejoining the cluster and shutdown: lifecycle.ts.
 *
 * A page whose origin the domain does not list (`origins`) is refused at the upgrade: HTTP 403
 * with `PF_ERR_ORIGIN` as JSON, and a log line (lifecycle.ts, server/page-origins.ts).
 *
 * Close codes: 1012 draining (reconnect at once: a balancer sends the client to another host;
 * /health says draining, 503, meanwhile), 1009 frame too large (ws's own); every other close is
 * for an error code, its reason, with that code's close code (core/errors.ts): 1013 PF_ERR_FLOOD
 * (node full, too many connections authenticating, slow consumer), 1013 PF_ERR_FETCH (issuer's
 * keys unreachable), 1008 PF_ERR_TIMEOUT (no `auth` in time), 1011 PF_ERR_INTERNAL (handling a
 * frame failed), 4401 PF_ERR_AUTH (token refused), 4403 PF_ERR_FORBIDDEN (domain not admitted).
 */
export interface MessagingNode {
  /** Where clients connect: `ws://<host>:<port>/`. */
  readonly url: string;
  readonly port: number;
  /** Health, metrics and provisioning: `http://<host>:<adminPort>`. */
  readonly adminUrl: string;
  /** This node's id in its cluster. */
  readonly id: string;
  readonly metrics: NodeMetrics;
  /** Open connections, authenticated or not. */
  readonly connections: number;
  /** Open connections not yet authenticated. */
  readonly pendingAuth: number;
  /** Graceful shutdown: clients are told to reconnect (1012), then the listeners close. */
  close(): Promise<void>;
}

/** Starts a messaging node on its WebSocket and admin ports, joined to its cluster. */
export async function startMessagingNode(options: MessagingNodeOptions): Promise<MessagingNode> {
  const settings = settingsOf(options);
  const metrics = new NodeMetrics(settings.policy);
  const cdr = settings.cdr && new CdrRecorder(settings.cdr, settings.log);
  const outstanding = new Outstanding();
  /** Every open connection, by session id: admission writes it, the other parts read it. */
  const sessions = new Map<string, ClientSession>();
  const groupPrefix = `domain://msg-node.${settings.domain}/group/`;
  const replies = new Replies(metrics, settings.log, cdr);
  const groups = new Groups(settings, outstanding);
  const holds = new Holds(settings, replies, outstanding, groupPrefix);
  const presence = new Presence(settings, holds, outstanding);
  const directory =
    settings.addressBook && new Directory(settings.domain, settings.addressBook, metrics, settings.log);
  const routing = new Routing(settings, replies, holds, groups, presence, sessions, groupPrefix, directory);
  const admission = new Admission(settings, replies, holds, groups, presence, routing, sessions);
  const lifecycle = new Lifecycle(settings, {
    metrics,
    admission,
    routing,
    holds,
    presence,
    sessions,
    cdr,
    outstanding,
    directory,
  });
  await lifecycle.listen();
  const { host, cluster } = settings;
  return {
    metrics,
    id: cluster.node,
    url: `ws://${host}:${lifecycle.port}/`,
    port: lifecycle.port,
    adminUrl: lifecycle.adminUrl,
    get connections() {
      return sessions.size;
    },
    get pendingAuth() {
      return admission.pending;
    },
    close: () => lifecycle.close(),
  };
}
