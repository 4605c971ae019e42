import { parseDecimal } from './decimal.js';
import { fail, within } from './fault.js';
import type { Body } from './message.js';
import { decodeUtf8, utf8End, utf8Length } from './utf8.js';

/**
 * Where a message's head ends and its body begins. Over WebSocket each message arrives whole,
 * one per WebSocket message (RFC 7118 §5.1), so there is no stream framing to do; what is left
 * is RFC 3261 §7.5 / §18.3 / §20.14: the empty line after the headers, and Content-Length.
 */

/** The header section (start line included, as text) and the index where the body starts. */
export interface Head {
  readonly head: string;
  readonly bodyStart: number;
}

/** RFC 3261 §7: finds the empty line (CRLF CRLF) that ends the header section. */
export function splitHead(input: string | Uint8Array): Head {
  if (typeof input === 'string') {
    const end = input.indexOf('\r\n\r\n');
    if (end === -1) fail('no empty line (CRLF CRLF) ends the header section', { part: 'head' });
    return { head: input.slice(0, end), bodyStart: end + 4 };
  }
  let end = input.indexOf(13);
  while (end !== -1 && !(input[end + 1] === 10 && input[end + 2] === 13 && input[end + 3] === 10)) {
    end = input.indexOf(13, end + 1);
  }
  if (end === -1) fail('no empty line (CRLF CRLF) ends the header section', { part: 'head' });
  const head = decodeUtf8(input.subarray(0, end));
  if (head === undefined) fail('the header section is not UTF-8', { part: 'head' });
  return { head, bodyStart: end + 4 };
}

/**
 * RFC 3261 §18.3 and §20.14: the body, `contentLength` octets from `bodyStart`, or all that is
 * left when there is no Content-Length (a message-based transport). Fewer octets than declared
 * is refused (RFC 4475 §3.1.2.2); octets beyond it are discarded, as §18.3 says for a datagram,
 * which is what a WebSocket message is to SIP (RFC 4475 §3.1.1.8).
 */
export function sliceBody(
  input: string | Uint8Array,
  bodyStart: number,
  contentLength: string | undefined,
): Body {
  let declared: number | undefined;
  try {
    declared =
      contentLength === undefined ? undefined : parseDecimal(contentLength, 2 ** 53 - 1, 'the length');
  } catch (err) {
    within(err, 'Content-Length header', contentLength ?? '', { header: 'Content-Length' });
  }
  if (typeof input === 'string') {
    if (declared === undefined) return input.slice(bodyStart);
    const end = utf8End(input, bodyStart, declared);
    if (end === -1) short(declared, utf8Length(input, bodyStart));
    return input.slice(bodyStart, end);
  }
  const available = input.length - bodyStart;
  if (declared !== undefined && declared > available) short(declared, available);
  const bytes = input.subarray(bodyStart, bodyStart + (declared ?? available));
  return decodeUtf8(bytes) ?? bytes.slice();
}

function short(declared: number, available: number): never {
  const why =
    available >= declared ? 'which ends inside a UTF-8 character' : `but the body has ${available} bytes`;
  return fail(`Content-Length is ${declared}, ${why}`, { header: 'Content-Length' });
}
