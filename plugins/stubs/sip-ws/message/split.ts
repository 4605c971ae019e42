import { trimWsp } from './chars.js';
import { fail, show } from './fault.js';

/**
 * RFC 3261 §7.3.1: a header field whose grammar is a comma-separated list may carry several
 * values in one field. This splits such a field value at the commas that separate elements,
 * that is those outside quoted strings and outside `<...>`. Which headers are lists is the
 * header codec's business: an unknown header, and WWW-Authenticate, Authorization, Date and
 * the like, are never split.
 */
export function splitList(value: string): string[] {
  if (value.indexOf(',') === -1) return [value];
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angled = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angled = true;
    else if (c === 0x3e) angled = false;
    else if (c === 0x2c && !angled) {
      out.push(element(value, start, i));
      start = i + 1;
    }
  }
  out.push(element(value, start, value.length));
  return out;
}

function element(value: string, start: number, end: number): string {
  const el = trimWsp(value.slice(start, end));
  if (el === '') fail(`list ${show(value)} has an empty element`);
  return el;
}
