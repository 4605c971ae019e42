import { isWsp, scan, skipWsp, TOKEN, trimWsp } from './chars.js';
import { fail, show } from './fault.js';
import { headerName, knownHeaderAt } from './header-names.js';
import { appendChecked, type Headers } from './headers.js';

/**
 * RFC 3261 §7.3 / §7.3.1: reads the header lines of `head` from index `from` into `headers`.
 *
 *     message-header = field-name HCOLON field-value CRLF      HCOLON = *( SP / HTAB ) ":" SWS
 *
 * A line that starts with SP or HTAB continues the previous field (folding); unfolded, the LWS
 * becomes one SP. Lines end with CRLF: a bare CR or LF is refused rather than guessed at. Names
 * are written in full (compact forms expanded, RFC 3261 §7.3.3). Content-Length is not added:
 * its raw value is returned for the framing, and a second Content-Length is refused (RFC 4475
 * §3.3.9).
 */
export function readHeaderLines(head: string, from: number, headers: Headers): string | undefined {
  let contentLength: string | undefined;
  let name = '';
  let key = '';
  let value: string | undefined;
  const flush = (): void => {
    if (value === undefined) return;
    if (key !== 'content-length') headers[appendChecked](name, key, value);
    else if (contentLength === undefined) contentLength = value;
    else fail('Content-Length appears twice', { header: 'Content-Length' });
  };
  let pos = from;
  while (pos < head.length) {
    // Each line ends at a CRLF (or the end of the head): one LF, preceded by the only CR.
    const lf = head.indexOf('\n', pos);
    const end = lf === -1 ? head.length : lf - 1;
    if (end < pos || head.indexOf('\r', pos) !== (lf === -1 ? -1 : end)) {
      fail(
        `header line ${show(head.slice(pos, lf === -1 ? head.length : lf + 1))} has a CR or LF outside a CRLF`,
      );
    }
    const next = lf === -1 ? head.length : lf + 1;
    if (isWsp(head.charCodeAt(pos))) {
      if (value === undefined)
        fail(`the first header line ${show(head.slice(pos, end))} starts with white space`);
      const more = trimWsp(head.slice(pos, end));
      if (more !== '') value = value === '' ? more : `${value} ${more}`;
      pos = next;
      continue;
    }
    flush();
    const colon = head.indexOf(':', pos);
    if (colon === -1 || colon > end) fail(`header line ${show(head.slice(pos, end))} has no colon`);
    let nameEnd = colon;
    while (nameEnd > pos && isWsp(head.charCodeAt(nameEnd - 1))) nameEnd--;
    let known = knownHeaderAt(head, pos, nameEnd);
    if (known === undefined) {
      if (nameEnd === pos || scan(head, pos, TOKEN) !== nameEnd) {
        fail(`header name ${show(head.slice(pos, colon))} is not a token`);
      }
      known = headerName(head.slice(pos, nameEnd));
    }
    ({ name, key } = known);
    let valueEnd = end;
    while (valueEnd > colon + 1 && isWsp(head.charCodeAt(valueEnd - 1))) valueEnd--;
    value = head.slice(skipWsp(head, colon + 1), valueEnd);
    pos = next;
  }
  flush();
  return contentLength;
}
