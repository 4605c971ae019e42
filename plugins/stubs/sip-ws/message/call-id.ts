import { all, WORD } from './chars.js';
import { fail } from './fault.js';

/** RFC 3261 §20.8 / §25.1 `callid = word [ "@" word ]`: the value itself, checked. */
export function parseCallId(s: string): string {
  const at = s.indexOf('@');
  const ok = at === -1 ? all(s, WORD) : all(s.slice(0, at), WORD) && all(s.slice(at + 1), WORD);
  if (!ok) fail('a Call-ID is word ["@" word], without white space');
  return s;
}
