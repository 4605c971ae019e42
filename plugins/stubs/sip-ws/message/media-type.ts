import { lower, scan, skipWsp, TOKEN } from './chars.js';
import { fail } from './fault.js';
import { formatParams, type Params, parseParams } from './params.js';

/** RFC 3261 §20.15: a Content-Type value. */
export interface MediaType {
  /** Lower-cased, like `application`. */
  readonly type: string;
  /** Lower-cased, like `sdp`. */
  readonly subtype: string;
  readonly params: Params;
}

/** RFC 3261 §20.15 / §25.1 `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`. */
export function parseMediaType(s: string): MediaType {
  const typeEnd = scan(s, 0, TOKEN);
  const slash = skipWsp(s, typeEnd);
  if (typeEnd === 0 || s.charCodeAt(slash) !== 0x2f) fail('expected type/subtype');
  const subStart = skipWsp(s, slash + 1);
  const subEnd = scan(s, subStart, TOKEN);
  if (subEnd === subStart) fail('the subtype is missing or is not a token');
  return {
    type: lower(s.slice(0, typeEnd)),
    subtype: lower(s.slice(subStart, subEnd)),
    params: parseParams(s, subEnd),
  };
}

/** RFC 3261 §20.15: `m` as `type/subtype;params`. */
export function formatMediaType(m: MediaType): string {
  return `${m.type}/${m.subtype}${formatParams(m.params)}`;
}
