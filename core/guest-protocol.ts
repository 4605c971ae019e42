/**
 * The guest credential protocol between the sip-ws stub and a SIP domain's guest service
 * (server/sip-guest; an XMPP domain's too, server/xmpp-guest, with `xmpp:` addresses): one
 * WebSocket, one request, one answer. A WebSocket because `ctx.connect`
 * is the only door a sandboxed stub has, and it opens only to the descriptor's endpoints.
 *
 *     stub → service   {"t":"guest","token":"<identity token from the user's home domain>"}
 *     service → stub   {"t":"credentials","username":"alice~a.example","password":"...",
 *                       "aor":"sip:alice~a.example@c.example","realm":"c.example","expires":3600}
 *
 * A refusal is a close code, with the reason as text.
 *
 * In core because it is a contract between two sides that may not import each other: the
 * sip-ws stub (plugins/) and the guest service (server/).
 */

/** The WebSocket subprotocol both ends name. */
export const GUEST_SUBPROTOCOL = 'protofly.sip-guest.v1';

export interface GuestRequest {
  readonly t: 'guest';
  readonly token: string;
}

export interface GuestCredentials {
  readonly t: 'credentials';
  /** The digest username and the user part of the guest's AOR: `<name>~<home domain>`. */
  readonly username: string;
  readonly password: string;
  readonly aor: string;
  readonly realm: string;
  /** Seconds the password is good for. */
  readonly expires: number;
}

/** Close codes of a refusal, json-ws's 44xx style: the same request will not do better. */
export const GUEST_CLOSE = {
  /** The request was not `{"t":"guest","token":...}`. */
  BAD_REQUEST: 4400,
  /** The token is malformed, expired, for another audience, or does not verify. */
  AUTH: 4401,
  /**
   * The token is good but its domain is not admitted, the domain's policy rules refuse its user
   * everything here, or it is this very domain (its users have passwords).
   */
  FORBIDDEN: 4403,
  /** The SIP server could not be told of the guest: worth trying again later. */
  UNAVAILABLE: 4503,
} as const;
