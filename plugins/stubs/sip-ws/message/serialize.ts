import { internal } from './fault.js';
import { type SipMessage, SipRequest } from './message.js';
import { formatRequestLine, formatStatusLine } from './start-line.js';
import { encodeUtf8, utf8Length } from './utf8.js';

/**
 * RFC 3261 §7: `message` as SIP text, in canonical form: header names in full, CRLF line ends,
 * fields in order, and a Content-Length computed from the body, written last. A string for a
 * text body; bytes when the body is bytes, which a binary WebSocket frame carries (RFC 7118 §4.2).
 * `parse(serialize(m))` has the same start line, fields and body as `m`.
 *
 * @throws ProtoflyError `PF_ERR_SIP_PARSE` when a start line element cannot be written.
 */
export function serialize(message: SipMessage): string | Uint8Array {
  try {
    let head =
      message instanceof SipRequest
        ? formatRequestLine(message.method, message.uri)
        : formatStatusLine(message.status, message.reason);
    head += '\r\n';
    // Field values cannot hold CR or LF: parse and the Headers methods see to that.
    for (const field of message.headers.fields) head += `${field.name}: ${field.value}\r\n`;
    const body = message.body;
    if (typeof body === 'string') return `${head}Content-Length: ${utf8Length(body)}\r\n\r\n${body}`;
    const headBytes = encodeUtf8(`${head}Content-Length: ${body.length}\r\n\r\n`);
    const out = new Uint8Array(headBytes.length + body.length);
    out.set(headBytes);
    out.set(body, headBytes.length);
    return out;
  } catch (err) {
    return internal(err);
  }
}
