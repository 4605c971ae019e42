import { HOST, isWsp, scan, skipWsp, TOKEN, upper } from './chars.js';
import { parseDecimal } from './decimal.js';
import { fail, show } from './fault.js';
import { formatParams, type Params, parseParams } from './params.js';
import { isHost } from './uri.js';

/** RFC 3261 §20.42: one Via value, a hop the request took. */
export interface Via {
  /** Upper-cased: `SIP`. */
  readonly protocol: string;
  readonly version: string;
  /** Upper-cased: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`... */
  readonly transport: string;
  /** The sent-by host as written, an IPv6 reference with its brackets. */
  readonly host: string;
  readonly port: number | undefined;
  /** branch, received, rport, maddr, ttl and extensions. */
  readonly params: Params;
}

/** RFC 3261 §8.1.1.7: the prefix of a branch made by an RFC 3261 element. */
export const MAGIC_COOKIE = 'z9hG4bK';

/** The index just past `SWS "/" SWS` at `from`, where `what` ended. */
function slash(s: string, from: number, what: string): number {
  const at = skipWsp(s, from);
  if (s.charCodeAt(at) !== 0x2f) fail(`expected '/' after the ${what}`);
  return skipWsp(s, at + 1);
}

/** The end of the token at `from`, which must not be empty. */
function token(s: string, from: number, what: string): number {
  const end = scan(s, from, TOKEN);
  if (end === from) fail(`${what} is missing or malformed`);
  return end;
}

/**
 * RFC 3261 §20.42 / §25.1, one (already comma-split) value:
 *
 *     via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
 *     sent-protocol = protocol-name SLASH protocol-version SLASH transport
 *     sent-by       = host [ COLON port ]
 *
 * with `SLASH` and `COLON` allowing white space around them. A branch that is the magic cookie
 * alone carries no transaction identifier and is refused (RFC 4475's badbranch case lets a UAS
 * reject it; this stack has no RFC 2543 fallback to offer instead).
 */
export function parseVia(s: string): Via {
  const protocolEnd = token(s, 0, 'protocol name');
  const versionStart = slash(s, protocolEnd, 'protocol name');
  const versionEnd = token(s, versionStart, 'protocol version');
  const transportStart = slash(s, versionEnd, 'protocol version');
  const transportEnd = token(s, transportStart, 'transport');
  if (!isWsp(s.charCodeAt(transportEnd))) fail('expected white space between the transport and sent-by');
  const hostStart = skipWsp(s, transportEnd);
  const hostEnd = s.charCodeAt(hostStart) === 0x5b ? s.indexOf(']', hostStart) + 1 : scan(s, hostStart, HOST);
  if (hostEnd <= hostStart || !isHost(s.slice(hostStart, hostEnd))) {
    fail(`sent-by host is missing or malformed at ${show(s.slice(hostStart))}`);
  }
  let i = skipWsp(s, hostEnd);
  let port: number | undefined;
  if (s.charCodeAt(i) === 0x3a) {
    const portStart = skipWsp(s, i + 1);
    const portEnd = scan(s, portStart, TOKEN);
    port = parseDecimal(s.slice(portStart, portEnd), 65535, 'sent-by port');
    i = portEnd;
  }
  const params = parseParams(s, i);
  if (params.size > 0) {
    if (params.get('branch') === MAGIC_COOKIE) fail(`branch is the magic cookie '${MAGIC_COOKIE}' alone`);
    if (params.has('ttl')) parseDecimal(params.get('ttl') ?? '', 255, 'ttl');
    const rport = params.get('rport');
    if (rport !== undefined && rport !== null) parseDecimal(rport, 65535, 'rport');
  }
  return {
    protocol: upper(s.slice(0, protocolEnd)),
    version: s.slice(versionStart, versionEnd),
    transport: upper(s.slice(transportStart, transportEnd)),
    host: s.slice(hostStart, hostEnd),
    port,
    params,
  };
}

/** RFC 3261 §20.42: `via` as `SIP/2.0/WSS host:port;params`. */
export function formatVia(via: Via): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `${via.protocol}/${via.version}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}
