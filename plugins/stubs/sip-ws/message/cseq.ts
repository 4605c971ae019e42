import { isWsp, scan, skipWsp, TOKEN } from './chars.js';
import { parseDecimal } from './decimal.js';
import { fail } from './fault.js';

/** RFC 3261 §20.16: the CSeq header value. */
export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31. */
const MAX_SEQ = 2 ** 31 - 1;

/** RFC 3261 §20.16 / §25.1 `CSeq = 1*DIGIT LWS Method`. */
export function parseCSeq(s: string): CSeq {
  const digits = scan(s, 0, TOKEN);
  if (!isWsp(s.charCodeAt(digits))) fail('expected a sequence number, white space and a method');
  const seq = parseDecimal(s.slice(0, digits), MAX_SEQ, 'sequence number');
  const start = skipWsp(s, digits);
  const end = scan(s, start, TOKEN);
  if (end === start || end !== s.length) fail('the method is missing or is not a token');
  return { seq, method: s.slice(start, end) };
}

/** RFC 3261 §20.16: `cseq` as `314159 INVITE`. */
export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}
