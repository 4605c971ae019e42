import { HOST, isWsp, scan, skipWsp, TOKEN } from './chars.js';
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

/** Reads `token SWS` and the separator that must follow; returns [token, index after the separator's SWS]. */
function part(s: string, from: number, what: string, sep: number): [string, number] {
  const end = scan(s, from, TOKEN);
  if (end === from) fail(`${what} is missing or malformed`);
  const next = skipWsp(s, end);
  if (s.charCodeAt(next) !== sep) fail(`expected '${String.fromCharCode(sep)}' after the ${what}`);
  return [s.slice(from, end), skipWsp(s, next + 1)];
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
  const [protocol, afterProtocol] = part(s, 0, 'protocol name', 0x2f);
  const [version, afterVersion] = part(s, afterProtocol, 'protocol version', 0x2f);
  const transportEnd = scan(s, afterVersion, TOKEN);
  if (transportEnd === afterVersion) fail('transport is missing or malformed');
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
    protocol: protocol.toUpperCase(),
    version,
    transport: s.slice(afterVersion, transportEnd).toUpperCase(),
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
