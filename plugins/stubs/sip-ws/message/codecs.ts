import { type AuthValue, formatAuth, parseAuth } from './auth.js';
import { parseCallId } from './call-id.js';
import { all, TOKEN } from './chars.js';
import { type CSeq, formatCSeq, parseCSeq } from './cseq.js';
import { formatSipDate, parseSipDate } from './date.js';
import { parseDecimal } from './decimal.js';
import { fail } from './fault.js';
import { headerName } from './header-names.js';
import { formatMediaType, type MediaType, parseMediaType } from './media-type.js';
import { formatNameAddr, type NameAddr, parseNameAddr } from './name-addr.js';
import { formatVia, parseVia, type Via } from './via.js';

/**
 * How one header's values are read and written. `kind` is the header's shape in RFC 3261 §7.3.1:
 *
 * - `single`: one field at most, never split (From, CSeq, Date, Content-Type...);
 * - `repeat`: any number of fields, never split, because the value holds commas of its own
 *   (WWW-Authenticate, Authorization, Proxy-Authenticate, Proxy-Authorization);
 * - `list`: any number of fields, each a comma-separated list (Via, Contact, Route, Allow...).
 *
 * `parse` takes one value (one list element for a list) and throws `PF_ERR_SIP_PARSE`. A list
 * whose grammar is `[ element *(COMMA element) ]` (Allow, Supported) sets `empty`: an empty
 * field is then an empty list rather than a malformed element.
 */
export interface HeaderCodec<T> {
  readonly name: string;
  readonly key: string;
  readonly kind: 'single' | 'repeat' | 'list';
  readonly empty: boolean;
  parse(value: string): T;
  format(value: T): string;
}

function codec<T>(
  name: string,
  kind: HeaderCodec<T>['kind'],
  parse: (value: string) => T,
  format: (value: T) => string,
  empty = false,
): HeaderCodec<T> {
  return { name, key: headerName(name).key, kind, empty, parse, format };
}

const nameAddrOnly = (value: string): NameAddr => parseNameAddr(value, true);
const token = (value: string): string => (all(value, TOKEN) ? value : fail('expected a token'));
const identity = (value: string): string => value;
/** RFC 3261 §20.19 / §20.23: delta-seconds, at most 2**32 - 1. */
const deltaSeconds = (value: string): number => parseDecimal(value, 2 ** 32 - 1, 'delta-seconds');

/** RFC 3261 §20.10: Contact; the REGISTER wildcard `*` is not an address, read it with `headers.get`. */
function contact(value: string): NameAddr {
  return value === '*' ? fail("the wildcard '*' is not an address") : parseNameAddr(value);
}

/** RFC 3261 §20.42. */
export const VIA = codec<Via>('Via', 'list', parseVia, formatVia);
/** RFC 3261 §20.20. */
export const FROM = codec<NameAddr>('From', 'single', parseNameAddr, formatNameAddr);
/** RFC 3261 §20.39. */
export const TO = codec<NameAddr>('To', 'single', parseNameAddr, formatNameAddr);
/** RFC 3261 §20.8. */
export const CALL_ID = codec<string>('Call-ID', 'single', parseCallId, identity);
/** RFC 3261 §20.16. */
export const CSEQ = codec<CSeq>('CSeq', 'single', parseCSeq, formatCSeq);
/** RFC 3261 §20.22: 0 to 255. */
export const MAX_FORWARDS = codec<number>(
  'Max-Forwards',
  'single',
  (value) => parseDecimal(value, 255, 'Max-Forwards'),
  String,
);
/** RFC 3261 §20.10. */
export const CONTACT = codec<NameAddr>('Contact', 'list', contact, formatNameAddr);
/** RFC 3261 §20.34. */
export const ROUTE = codec<NameAddr>('Route', 'list', nameAddrOnly, formatNameAddr);
/** RFC 3261 §20.30. */
export const RECORD_ROUTE = codec<NameAddr>('Record-Route', 'list', nameAddrOnly, formatNameAddr);
/** RFC 3327. */
export const PATH = codec<NameAddr>('Path', 'list', nameAddrOnly, formatNameAddr);
/** RFC 3608. */
export const SERVICE_ROUTE = codec<NameAddr>('Service-Route', 'list', nameAddrOnly, formatNameAddr);
/** RFC 3261 §20.15. */
export const CONTENT_TYPE = codec<MediaType>('Content-Type', 'single', parseMediaType, formatMediaType);
/** RFC 3261 §20.19. */
export const EXPIRES = codec<number>('Expires', 'single', deltaSeconds, String);
/** RFC 3261 §20.23. */
export const MIN_EXPIRES = codec<number>('Min-Expires', 'single', deltaSeconds, String);
/** RFC 3261 §20.17. */
export const DATE = codec<Date>('Date', 'single', parseSipDate, formatSipDate);
/** RFC 3261 §20.44. */
export const WWW_AUTHENTICATE = codec<AuthValue>('WWW-Authenticate', 'repeat', parseAuth, formatAuth);
/** RFC 3261 §20.27. */
export const PROXY_AUTHENTICATE = codec<AuthValue>('Proxy-Authenticate', 'repeat', parseAuth, formatAuth);
/** RFC 3261 §20.7. */
export const AUTHORIZATION = codec<AuthValue>('Authorization', 'repeat', parseAuth, formatAuth);
/** RFC 3261 §20.28. */
export const PROXY_AUTHORIZATION = codec<AuthValue>('Proxy-Authorization', 'repeat', parseAuth, formatAuth);
/** RFC 3261 §20.5. */
export const ALLOW = codec<string>('Allow', 'list', token, identity, true);
/** RFC 3261 §20.37. */
export const SUPPORTED = codec<string>('Supported', 'list', token, identity, true);
/** RFC 3261 §20.32. */
export const REQUIRE = codec<string>('Require', 'list', token, identity);
/** RFC 3261 §20.29. */
export const PROXY_REQUIRE = codec<string>('Proxy-Require', 'list', token, identity);
/** RFC 3261 §20.40. */
export const UNSUPPORTED = codec<string>('Unsupported', 'list', token, identity);
