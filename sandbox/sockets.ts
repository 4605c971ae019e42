import type { ProtoflyError } from '../core/errors.js';

/**
 * The host's side of `ctx.connect`: a host opens real WebSockets through a factory, so the
 * realm code stays free of any one WebSocket implementation (`ws` in Node, the global
 * `WebSocket` in a browser).
 */

/** What a socket reports; text only (binary frames are decoded as UTF-8 by the factory). */
export interface SocketEvents {
  open(protocol: string): void;
  message(data: string): void;
  close(code: number, reason: string): void;
  error(message: string): void;
}

/** A socket the host holds for a stub. */
export interface HostSocket {
  /** Sends text; ignored unless open. */
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** Stops reading while the stub has a full window of socket data it has not taken yet. */
  pause(): void;
  resume(): void;
}

/**
 * Opens a socket to an already allowed, normalized URL. Must not follow redirects (a redirect
 * could leave the allow-list) and must refuse incoming frames larger than `maxPayload` bytes.
 * Where it resolves names itself (Node), it must call `checkAddress` with every address the
 * URL's host resolves to and connect to none when one throws (the runtime policy refuses it);
 * where it cannot (a browser), the host's check of the URL is all there is.
 * May throw synchronously (e.g. an invalid subprotocol).
 */
export type SocketFactory = (
  url: string,
  protocols: readonly string[],
  events: SocketEvents,
  options: SocketOptions,
) => HostSocket;

/** What the host asks of a socket it opens through a {@link SocketFactory}. */
export interface SocketOptions {
  readonly maxPayload: number;
  readonly checkAddress: (address: string) => void;
  /**
   * Certificate authorities (PEM) a `wss://` server's certificate may chain to besides the
   * factory's own roots (the runtime policy's `tls.ca`). A factory that cannot add any (a
   * browser's) is in a host that refuses a policy naming some.
   */
  readonly ca: readonly string[];
  /**
   * The runtime, not the far side, refuses the socket under way (`PF_ERR_TLS`: a certificate
   * it does not trust): called before the error and close events that follow.
   */
  readonly refused: (err: ProtoflyError) => void;
}
