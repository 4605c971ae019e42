import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, pino } from 'pino';
import { Policy } from '../policy/policy.js';
import { LocalCluster } from '../services/local-cluster.js';
import { MemoryLocation } from '../services/memory-location.js';
import type { AddressBook, Cdr, Cluster, Identity, Location, Provisioning } from '../services/service.js';

/**
 * What a messaging node is started with. The limits have the names of the domain config's
 * `limits` (schemas/domain-config.schema.json), so `protofly serve` passes them through.
 */
export interface MessagingNodeOptions {
  /** The domain this node serves (for logs and health; tokens are checked by `identity`). */
  readonly domain: string;
  /** Verifies identity tokens and administrators' passwords: the domain's Identity service. */
  readonly identity: Pick<Identity, 'verify' | 'authenticate'>;
  /** Where sessions are registered and found: the domain's Location service. Default: this process's memory. */
  readonly location?: Location;
  /** Delivery to other nodes and frames held for the offline: the Cluster service. Default: one process. */
  readonly cluster?: Cluster;
  /** Records a detail record per conversation, when given. */
  readonly cdr?: CdrOptions;
  /**
   * Serves the provisioning REST API on the admin port, when given, and the policy API (both
   * for the administrators it names).
   */
  readonly provisioning?: Provisioning;
  /**
   * Answers users' searches at domain://msg-node.<domain>/directory, when given, and, with
   * `provisioning` (which says who administers), serves /addressbook/v1 on the admin port.
   */
  readonly addressBook?: AddressBook;
  /**
   * Who may reach whom (server/policy): checked for every message to a user:// or hyperty://
   * address; its rules replaced over the admin port's policy API. Default: no rules, all allowed.
   */
  readonly policy?: Policy;
  /** Interface for both listeners. Default 127.0.0.1. */
  readonly host?: string;
  /** WebSocket port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Health and metrics port; 0 picks a free one. Default 0. */
  readonly adminPort?: number;
  /** Largest frame accepted, in bytes; a larger one closes the connection with 1009. Default 64 KiB. */
  readonly maxFrameBytes?: number;
  /**
   * Deepest nesting of arrays and objects in a frame, its own object counting as 1; a deeper
   * frame is refused (PF_ERR_FRAME) before it is parsed. Default 64.
   */
  readonly maxJsonDepth?: number;
  /** Sustained messages a second per connection. Default 100. */
  readonly messagesPerSecond?: number;
  /** Messages a connection may send at once above the sustained rate. Default 2 × messagesPerSecond. */
  readonly burst?: number;
  /**
   * Sustained bytes a second a connection may send, two seconds' worth at once. Past it the node
   * stops reading the connection until it is within it again: its frames wait in TCP, none
   * dropped. What parsing costs follows the bytes (a 64 KiB frame of small values takes
   * milliseconds), so one connection cannot hold the node. Default 4 KiB × messagesPerSecond, and
   * at least maxFrameBytes.
   */
  readonly bytesPerSecond?: number;
  /**
   * Authenticated connections at most; past it a new connection, or one authenticating, is
   * turned away (1013). Default 10000.
   */
  readonly maxConnections?: number;
  /**
   * Connections not yet authenticated, at most: they are bounded apart from maxConnections,
   * so silent sockets cannot take authenticated users' places. Default 1024.
   */
  readonly maxPendingAuth?: number;
  /** Connections not yet authenticated from one remote address, at most. Default 32. */
  readonly maxPendingAuthPerAddress?: number;
  /** Milliseconds an acknowledgement may wait to share a frame with others. Default 2. */
  readonly ackDelayMs?: number;
  /** Messages kept per offline address. Default 100. */
  readonly offlineMessages?: number;
  /** Seconds an offline message is kept, and a hyperty address its owner's after they left. Default 300. */
  readonly offlineTtlSeconds?: number;
  /** Messages kept for all offline addresses together, by the default cluster. Default 100000. */
  readonly offlineTotal?: number;
  /** Milliseconds between pings; a peer that has not answered the previous one is cut. Default 30000. */
  readonly heartbeatMs?: number;
  /** Milliseconds a new connection has to authenticate (its token verified included). Default 5000. */
  readonly authTimeoutMs?: number;
  /**
   * Milliseconds a connection the node closes (refused, slow, failed) has to read the close
   * frame before it is cut: a consumer that does not read must not hold its buffers. Default 1000.
   */
  readonly closeGraceMs?: number;
  /** Milliseconds clients get to close after a shutdown starts before they are cut. Default 5000. */
  readonly shutdownGraceMs?: number;
  /**
   * Bytes a session's socket may hold unsent; past it the session is a slow consumer: it is
   * told, dropped, and what was bound for it is held for its user. Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /**
   * Messages a session with receipts may have been sent and not yet said it took; past it the
   * session is a slow consumer too. Default 1000.
   */
  readonly maxUnreceived?: number;
  /** Subscribers one group may have, and members its owner may add. Default 10000. */
  readonly maxGroupSize?: number;
  /** Who may join groups. Default: users of this node's domain, any of them. */
  readonly groups?: GroupPolicy;
  /**
   * Origins of the pages that may open a WebSocket to the node (`*`: any page); another page is
   * refused at the upgrade (403, PF_ERR_ORIGIN), a client that sends no Origin is no page and is
   * admitted (see server/page-origins.ts). The domain config's `browsers.messaging`. Default none.
   */
  readonly origins?: readonly string[];
  /** Answers `POST /.well-known/protofly/token` on the client port: the domain's token endpoint (server/identity). */
  readonly tokenEndpoint?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly log?: Logger;
}

/** Who may join a group (`domain://msg-node.<domain>/group/<name>`): the domain config's `groups`. */
export interface GroupPolicy {
  /**
   * `members`: only the group's owner and the members it added; `domain`: any admitted user
   * the owner has not removed; `any`: as `domain`, with users of every domain admitted.
   */
  readonly subscribe?: 'members' | 'domain' | 'any';
  /** Domains whose users are admitted to groups besides the node's own (unless `any`). */
  readonly foreignDomains?: readonly string[];
}

/** What the node records conversations with. */
export interface CdrOptions {
  readonly service: Cdr;
  /** The stub (`name@version`) the domain serves for this node. */
  readonly stub: string;
  /** Milliseconds without a message after which a conversation's record ends. Default 300000. */
  readonly idleMs?: number;
  /** Milliseconds between writes of what was counted. Default 1000. */
  readonly flushMs?: number;
}

/** The options with every default filled in. */
export type NodeSettings = Required<
  Omit<MessagingNodeOptions, 'cdr' | 'provisioning' | 'addressBook' | 'tokenEndpoint'>
> &
  Pick<MessagingNodeOptions, 'cdr' | 'provisioning' | 'addressBook' | 'tokenEndpoint'>;

/** Fills in the defaults. */
export function settingsOf(options: MessagingNodeOptions): NodeSettings {
  const rate = options.messagesPerSecond ?? 100;
  const ttlMs = (options.offlineTtlSeconds ?? 300) * 1000;
  const log = options.log ?? pino({ name: 'messaging-node' });
  return {
    location: new MemoryLocation({ retainMs: ttlMs }),
    cluster: new LocalCluster({ total: options.offlineTotal ?? 100_000 }),
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    maxFrameBytes: 64 * 1024,
    maxJsonDepth: 64,
    messagesPerSecond: rate,
    burst: 2 * rate,
    bytesPerSecond: Math.max(4096 * rate, options.maxFrameBytes ?? 64 * 1024),
    maxConnections: 10_000,
    maxPendingAuth: 1024,
    maxPendingAuthPerAddress: 32,
    ackDelayMs: 2,
    offlineMessages: 100,
    offlineTtlSeconds: 300,
    offlineTotal: 100_000,
    heartbeatMs: 30_000,
    authTimeoutMs: 5000,
    closeGraceMs: 1000,
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    maxBufferedBytes: 1024 * 1024,
    maxUnreceived: 1000,
    maxGroupSize: 10_000,
    groups: {},
    origins: [],
    log,
    policy: new Policy(options.domain, {}, log),
    ...definedOnly(options),
  };
}

/** Milliseconds a draining node waits for its clients to leave, unless told otherwise. */
export const SHUTDOWN_GRACE_MS = 5000;

/** `options` without its undefined members, so they do not hide defaults in a spread. */
function definedOnly<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}
