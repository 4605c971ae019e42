import { type Logger, pino } from 'pino';
import type { Identity } from '../../core/service.js';

/**
 * What a messaging node is started with. The limits have the names of the domain config's
 * `limits` (schemas/domain-config.schema.json), so `protofly serve` passes them through.
 */
export interface MessagingNodeOptions {
  /** The domain this node serves (for logs and health; tokens are checked by `identity`). */
  readonly domain: string;
  /** Verifies identity tokens: the domain's Identity service. */
  readonly identity: Pick<Identity, 'verify'>;
  /** Interface for both listeners. Default 127.0.0.1. */
  readonly host?: string;
  /** WebSocket port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Health and metrics port; 0 picks a free one. Default 0. */
  readonly adminPort?: number;
  /** Largest frame accepted, in bytes; a larger one closes the connection with 1009. Default 64 KiB. */
  readonly maxFrameBytes?: number;
  /** Sustained messages a second per connection. Default 100. */
  readonly messagesPerSecond?: number;
  /** Messages a connection may send at once above the sustained rate. Default 2 × messagesPerSecond. */
  readonly burst?: number;
  /** Open connections at most. Default 10000. */
  readonly maxConnections?: number;
  /** Milliseconds an acknowledgement may wait to share a frame with others. Default 2. */
  readonly ackDelayMs?: number;
  /** Messages kept per offline address. Default 100. */
  readonly offlineMessages?: number;
  /** Seconds an offline message is kept. Default 300. */
  readonly offlineTtlSeconds?: number;
  /** Messages kept for all offline addresses together. Default 100000. */
  readonly offlineTotal?: number;
  /** Milliseconds between pings; a peer that has not answered the previous one is cut. Default 30000. */
  readonly heartbeatMs?: number;
  /** Milliseconds a new connection has to authenticate. Default 10000. */
  readonly authTimeoutMs?: number;
  /** Milliseconds clients get to close after a shutdown starts before they are cut. Default 5000. */
  readonly shutdownGraceMs?: number;
  readonly log?: Logger;
}

/** The options with every default filled in. */
export type NodeSettings = Required<MessagingNodeOptions>;

/** Fills in the defaults. */
export function settingsOf(options: MessagingNodeOptions): NodeSettings {
  const rate = options.messagesPerSecond ?? 100;
  return {
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    maxFrameBytes: 64 * 1024,
    messagesPerSecond: rate,
    burst: 2 * rate,
    maxConnections: 10_000,
    ackDelayMs: 2,
    offlineMessages: 100,
    offlineTtlSeconds: 300,
    offlineTotal: 100_000,
    heartbeatMs: 30_000,
    authTimeoutMs: 10_000,
    shutdownGraceMs: 5000,
    log: pino({ name: 'messaging-node' }),
    ...definedOnly(options),
  };
}

/** `options` without its undefined members, so they do not hide defaults in a spread. */
function definedOnly<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}
