/**
 * The sip-ws stub's configuration: `ctx.config` over these defaults. The descriptor
 * (protofly.json) declares the same schema and defaults for the runtime to validate against;
 * a domain's deployment sets `url` (its SIP-over-WebSocket server) and `guestUrl`.
 */
export interface SipWsSettings {
  /** The SIP-over-WebSocket server (RFC 7118): Kamailio's `ws://` or `wss://` listener; '' when the config names none. */
  readonly url: string;
  /** The domain's guest credential service (server/sip-guest), for users of other domains. */
  readonly guestUrl: string | undefined;
  /** The digest password of a user of this domain (from the runtime's stub config, never the descriptor). */
  readonly password: string | undefined;
  /** Registration lifetime asked for, in seconds (RFC 3261 §10.2.1.1). */
  readonly registerExpires: number;
  /** RFC 5626 §4.4.1 CRLF keep-alive period on the WebSocket, in ms; 0 sends none. */
  readonly keepAliveMs: number;
  /** First reconnect delay, doubled per failed attempt. */
  readonly reconnectDelayMs: number;
  readonly reconnectDelayMaxMs: number;
  /** Share of a reconnect delay added or taken at random. */
  readonly randomizationFactor: number;
  /** RFC 3261 §17.1.1.1 T1, the round-trip estimate every transaction timer derives from. */
  readonly t1Ms: number;
  /** The app's requests held while not registered, at most; beyond, they are answered 503. */
  readonly maxQueued: number;
}

export const DEFAULTS = {
  registerExpires: 600,
  keepAliveMs: 25_000,
  reconnectDelayMs: 1000,
  reconnectDelayMaxMs: 8000,
  randomizationFactor: 0.5,
  t1Ms: 500,
  maxQueued: 1000,
} as const;

/** `ctx.config` over the defaults. */
export function settingsOf(config: Readonly<Record<string, unknown>>): SipWsSettings {
  const number = (key: keyof typeof DEFAULTS): number =>
    typeof config[key] === 'number' ? (config[key] as number) : DEFAULTS[key];
  const text = (key: string): string | undefined =>
    typeof config[key] === 'string' ? (config[key] as string) : undefined;
  return {
    url: text('url') ?? '',
    guestUrl: text('guestUrl'),
    password: text('password'),
    registerExpires: number('registerExpires'),
    keepAliveMs: number('keepAliveMs'),
    reconnectDelayMs: number('reconnectDelayMs'),
    reconnectDelayMaxMs: number('reconnectDelayMaxMs'),
    randomizationFactor: number('randomizationFactor'),
    t1Ms: number('t1Ms'),
    maxQueued: number('maxQueued'),
  };
}
