/**
 * The SIP message layer of the sip-ws stub: parse and serialise SIP messages as they travel one
 * per WebSocket message (RFC 7118), over the RFC 3261 grammar. Transactions and dialogs build on
 * these types.
 */
export type { AuthValue } from './auth.js';
export {
  ALLOW,
  AUTHORIZATION,
  CALL_ID,
  CONTACT,
  CONTENT_TYPE,
  CSEQ,
  DATE,
  EXPIRES,
  FROM,
  type HeaderCodec,
  MAX_FORWARDS,
  MIN_EXPIRES,
  PATH,
  PROXY_AUTHENTICATE,
  PROXY_AUTHORIZATION,
  PROXY_REQUIRE,
  RECORD_ROUTE,
  REQUIRE,
  ROUTE,
  SERVICE_ROUTE,
  SUPPORTED,
  TO,
  UNSUPPORTED,
  VIA,
  WWW_AUTHENTICATE,
} from './codecs.js';
export type { CSeq } from './cseq.js';
export { type HeaderName, headerName } from './header-names.js';
export { type HeaderField, Headers } from './headers.js';
export type { MediaType } from './media-type.js';
export { type Body, type SipMessage, SipMessageBase, SipRequest, SipResponse } from './message.js';
export { formatNameAddr, type NameAddr, parseNameAddr } from './name-addr.js';
export { NO_PARAMS, type Params } from './params.js';
export { parse } from './parse.js';
export { quote, unquote } from './quoted-string.js';
export { serialize } from './serialize.js';
export {
  formatUri,
  isSipUri,
  isTelUri,
  type OtherUri,
  parseUri,
  type SipUri,
  type TelUri,
  type Uri,
} from './uri.js';
export { formatVia, MAGIC_COOKIE, parseVia, type Via } from './via.js';
