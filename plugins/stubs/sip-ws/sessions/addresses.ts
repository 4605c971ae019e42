import { parseAddress } from '../../../../core/address.js';
import { percentDecode } from '../message/escape.js';
import { isSipUri, NO_PARAMS, type SipUri, type Uri } from '../message/index.js';
import { encodeUtf8 } from '../message/utf8.js';

/**
 * protofly addresses and SIP URIs: `user://c.example/dave` is `sip:dave@c.example`, and back.
 * A guest of the domain (see core/stub-kit/guest-credentials.ts) is `sip:alice~a.example@c.example`,
 * which reads back as `user://c.example/alice~a.example`: c.example vouches for its guests
 * under its own name, never for a.example's users.
 */

/** RFC 3986 pchar minus "%": what an address segment holds unescaped (core/address.ts). */
const SEGMENT_CHAR = /[A-Za-z0-9._~!$&'()*+,;=:@-]/;

/** The SIP URI of a user address: `user://<domain>/<name>` as `sip:<name>@<domain>`. */
export function sipUriOf(address: string): SipUri {
  const { domain, path } = parseAddress(address);
  return {
    scheme: 'sip',
    user: percentDecode(path[0]!),
    password: undefined,
    host: domain,
    port: undefined,
    params: NO_PARAMS,
    headers: new Map(),
  };
}

/** The user address of a SIP URI with a user part, or undefined when it makes none (no user, an IP...). */
export function addressOf(uri: Uri): string | undefined {
  if (!isSipUri(uri) || uri.user === undefined || uri.user === '') return undefined;
  const address = `user://${uri.host.toLowerCase()}/${segment(uri.user)}`;
  try {
    parseAddress(address);
    return address;
  } catch {
    return undefined;
  }
}

/** `text` as an address segment: characters it cannot hold written as `%XX` of their UTF-8. */
function segment(text: string): string {
  let out = '';
  for (const ch of text) {
    if (SEGMENT_CHAR.test(ch)) out += ch;
    else for (const b of encodeUtf8(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
