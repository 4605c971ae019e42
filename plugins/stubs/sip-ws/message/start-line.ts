import { all, hasControl, TOKEN } from './chars.js';
import { fail, show, within } from './fault.js';
import { formatUri, isSipUri, parseUri, type Uri } from './uri.js';

/**
 * RFC 3261 §7.1 and §7.2: the first line of a message.
 *
 *     Request-Line = Method SP Request-URI SP SIP-Version CRLF
 *     Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *
 * Exactly one SP between elements, none at the end of a Request-Line (RFC 4475 §3.1.2.9,
 * §3.1.2.10), no `<>` around the Request-URI (§3.1.2.7).
 */

export type StartLine =
  | { readonly kind: 'request'; readonly method: string; readonly uri: Uri }
  | { readonly kind: 'response'; readonly status: number; readonly reason: string };

const VERSION = 'SIP/2.0';
const ANY_VERSION = /^SIP\/\d+\.\d+$/i;

function version(v: string, line: string): void {
  // RFC 3261 §7.1: the version is case-insensitive (but sent upper-case).
  if (v === VERSION || (v.length === VERSION.length && v.toUpperCase() === VERSION)) return;
  if (ANY_VERSION.test(v))
    fail(`SIP version ${show(v)} is not supported`, { status: 505, part: 'start-line' });
  fail(`start line ${show(line)} has no SIP version where one belongs`, { part: 'start-line' });
}

/** True when `line` is a Status-Line: a method is a token, and a token cannot contain "/". */
function isStatusLine(line: string): boolean {
  return line.startsWith('SIP/') || (line.length > 4 && line.slice(0, 4).toUpperCase() === 'SIP/');
}

/** RFC 3261 §7.1 / §7.2 / §25.1: parses a start line. */
export function parseStartLine(line: string): StartLine {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 === -1)
    fail(`start line ${show(line)} does not have three parts separated by SP`, { part: 'start-line' });
  if (isStatusLine(line)) {
    version(line.slice(0, sp1), line);
    const code = line.slice(sp1 + 1, sp2);
    if (!/^[1-6]\d\d$/.test(code)) {
      fail(`status code ${show(code)} is not three digits from 100 to 699`, { part: 'start-line' });
    }
    const reason = line.slice(sp2 + 1);
    // Reason-Phrase: reserved / unreserved / escaped / UTF-8 / SP / HTAB, no other control character.
    if (hasControl(reason))
      fail(`reason phrase ${show(reason)} holds a control character`, { part: 'start-line' });
    return { kind: 'response', status: Number(code), reason };
  }
  const method = line.slice(0, sp1);
  const rawUri = line.slice(sp1 + 1, sp2);
  const rest = line.slice(sp2 + 1);
  if (!all(method, TOKEN)) fail(`method ${show(method)} is not a token`, { part: 'start-line' });
  if (rawUri === '' || rest.indexOf(' ') !== -1) {
    const why = / $/.test(line)
      ? 'ends with white space'
      : rawUri === ''
        ? 'separates its elements with more than one SP'
        : 'has white space inside its Request-URI';
    fail(`Request-Line ${show(line)} ${why}`, { part: 'start-line' });
  }
  version(rest, line);
  if (rawUri.charCodeAt(0) === 0x3c)
    fail(`Request-URI ${show(rawUri)} must not be enclosed in <>`, { part: 'start-line' });
  let uri: Uri;
  try {
    uri = parseUri(rawUri);
  } catch (err) {
    within(err, 'Request-URI', rawUri, { part: 'start-line' });
  }
  // RFC 3261 §19.1.1 Table 1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
  if (isSipUri(uri) && uri.headers.size > 0) {
    fail(`Request-URI ${show(rawUri)} carries URI headers`, { part: 'start-line' });
  }
  return { kind: 'request', method, uri };
}

/** RFC 3261 §7.1: a Request-Line, refusing a method that is not a token or a URI with white space. */
export function formatRequestLine(method: string, uri: Uri): string {
  const text = formatUri(uri);
  if (!all(method, TOKEN)) fail(`method ${show(method)} is not a token`, { part: 'start-line' });
  if (/\s/.test(text)) fail(`Request-URI ${show(text)} holds white space`, { part: 'start-line' });
  return `${method} ${text} ${VERSION}`;
}

/** RFC 3261 §7.2: a Status-Line, refusing a status outside 100-699 or a reason with a control character. */
export function formatStatusLine(status: number, reason: string): string {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    fail(`status ${status} is not from 100 to 699`, { part: 'start-line' });
  }
  if (hasControl(reason))
    fail(`reason phrase ${show(reason)} holds a control character`, { part: 'start-line' });
  return `${VERSION} ${status} ${reason}`;
}
