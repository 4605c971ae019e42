/**
 * The json-ws stub's configuration: `ctx.config` over these defaults. The descriptor
 * (protofly.json) declares the same schema and defaults for the runtime to validate against.
 */
export interface JsonWsSettings {
  /** The messaging node, `ws://` or `wss://`. */
  readonly url: string;
  /** First reconnect delay, doubled per failed attempt (socket.io's `reconnectionDelay`). */
  readonly reconnectDelayMs: number;
  /** Longest reconnect delay (socket.io's `reconnectionDelayMax`). */
  readonly reconnectDelayMaxMs: number;
  /** Share of a delay added or taken at random so clients do not come back in step (socket.io's `randomizationFactor`). */
  readonly randomizationFactor: number;
  /** From opening a socket to the node's `ready` at most (socket.io's `timeout`). */
  readonly connectTimeoutMs: number;
  /** Largest frame sent; a bigger message is answered 413 locally. The node's default limit. */
  readonly maxFrameBytes: number;
  /** Messages sent and not yet acknowledged at most; they are the ones resent after a reconnect. */
  readonly windowSize: number;
  /** Messages waiting to be sent or acknowledged at most; beyond, a request is answered 503. */
  readonly maxQueued: number;
  /** Message keys remembered to drop duplicates (a resent message that had arrived). */
  readonly dedupWindow: number;
  /** Pause after the node refused a message to be sent again (a retryable code), before sending it again. */
  readonly retryPauseMs: number;
  /** Quiet this long (nothing heard from the node), the stub pings it; 0 never pings. */
  readonly pingIntervalMs: number;
  /** A ping unanswered this long gives the socket up: `disconnected`, then a reconnect. */
  readonly pingTimeoutMs: number;
}

export const DEFAULTS: Omit<JsonWsSettings, 'url'> = {
  reconnectDelayMs: 1000,
  reconnectDelayMaxMs: 5000,
  randomizationFactor: 0.5,
  connectTimeoutMs: 20_000,
  maxFrameBytes: 65_536,
  windowSize: 256,
  maxQueued: 10_000,
  dedupWindow: 10_000,
  retryPauseMs: 250,
  pingIntervalMs: 10_000,
  pingTimeoutMs: 5_000,
};

/** `ctx.config` over the defaults; undefined when it names no URL to connect to. */
export function settingsOf(config: Readonly<Record<string, unknown>>): JsonWsSettings | undefined {
  if (typeof config.url !== 'string') return undefined;
  const settings: Record<string, unknown> = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (typeof config[key] === 'number') settings[key] = config[key];
  }
  settings.url = config.url;
  return settings as unknown as JsonWsSettings;
}
