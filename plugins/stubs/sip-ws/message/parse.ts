import { CALL_ID, CSEQ, FROM, type HeaderCodec, MAX_FORWARDS, TO, VIA } from './codecs.js';
import { fail, internal, show } from './fault.js';
import { sliceBody, splitHead } from './framing.js';
import { readHeaderLines } from './header-lines.js';
import { Headers } from './headers.js';
import { type SipMessage, SipRequest, SipResponse } from './message.js';
import { parseStartLine, type StartLine } from './start-line.js';

/**
 * Parses one SIP message, as one WebSocket message carries it (RFC 7118): a string from a text
 * frame or bytes from a binary frame.
 *
 * Checked here: the start line (RFC 3261 §7.1, §7.2), header line syntax and folding (§7.3),
 * the headers every message needs (§8.1.1: Via, From, To, Call-ID, CSeq, and Max-Forwards in a
 * request), a CSeq method equal to the request method (§8.1.1.5), and the body length against
 * Content-Length (§18.3, §20.14). Every other header is kept as text and parsed when read.
 *
 * @throws ProtoflyError `PF_ERR_SIP_PARSE` naming what is wrong; nothing else, whatever the input.
 */
export function parse(input: string | Uint8Array): SipMessage {
  try {
    return read(input);
  } catch (err) {
    return internal(err);
  }
}

function read(input: string | Uint8Array): SipMessage {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) fail('a SIP message is a string or bytes');
  const { head, bodyStart } = splitHead(input);
  const lineEnd = head.indexOf('\r\n');
  const line = lineEnd === -1 ? head : head.slice(0, lineEnd);
  if (line.indexOf('\n') !== -1 || line.indexOf('\r') !== -1) {
    fail(`start line ${show(line)} holds a CR or LF that is not part of a CRLF`, { part: 'start-line' });
  }
  const start = parseStartLine(line);
  const headers = new Headers();
  const contentLength = readHeaderLines(head, lineEnd === -1 ? head.length : lineEnd + 2, headers);
  checkRequired(start, headers);
  const body = sliceBody(input, bodyStart, contentLength);
  return start.kind === 'request'
    ? new SipRequest(start.method, start.uri, headers, body)
    : new SipResponse(start.status, start.reason, headers, body);
}

function missing(header: string): never {
  return fail(`the message has no ${header} header`, { header });
}

const ONCE: readonly HeaderCodec<unknown>[] = [FROM, TO, CALL_ID];

/** RFC 3261 §8.1.1, §8.1.1.5: the headers without which no transaction or dialog can work. */
function checkRequired(start: StartLine, headers: Headers): void {
  if (headers.all(VIA).length === 0) missing('Via');
  for (const codec of ONCE) if (headers.first(codec) === undefined) missing(codec.name);
  const cseq = headers.first(CSEQ) ?? missing('CSeq');
  if (start.kind !== 'request') return;
  if (cseq.method !== start.method) {
    fail(`CSeq method ${show(cseq.method)} does not match the request method ${show(start.method)}`, {
      header: 'CSeq',
    });
  }
  if (headers.first(MAX_FORWARDS) === undefined) missing('Max-Forwards');
}
