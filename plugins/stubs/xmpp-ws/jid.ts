import { parseAddress, userAddress } from 'protofly/stub';

/**
 * JIDs (RFC 7622) and protofly addresses: `user://<domain>/<name>` is the bare JID
 * `<name>@<domain>`. Only what maps both ways is taken: a localpart without the characters RFC
 * 7622 §3.3.1 forbids, a domain an address may have. (No PRECIS case mapping: a JID is compared
 * as the server wrote it, which Prosody sends normalised.)
 */

/** A JID read: its bare part and its resource, if any. */
export interface Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string | undefined;
}

/** The characters a localpart may not hold (RFC 7622 §3.3.1), and those an address path may not. */
const FORBIDDEN_LOCAL = new Set([
  '"',
  '&',
  "'",
  '/',
  ':',
  '<',
  '>',
  '@',
  ' ',
  '\t',
  '\n',
  '\r',
  '%',
  '?',
  '#',
]);

/** Reads `text` as a JID with a localpart; undefined for anything else. */
export function readJid(text: string | undefined): Jid | undefined {
  if (!text || text.length > 3071) return undefined;
  const at = text.indexOf('@');
  const slash = text.indexOf('/');
  if (at <= 0 || (slash >= 0 && slash < at)) return undefined;
  const local = text.slice(0, at);
  const domain = slash < 0 ? text.slice(at + 1) : text.slice(at + 1, slash);
  const resource = slash < 0 ? undefined : text.slice(slash + 1);
  if ([...local].some((c) => FORBIDDEN_LOCAL.has(c)) || resource === '') return undefined;
  return addressOf({ local, domain, resource }) ? { local, domain, resource } : undefined;
}

/** The user address of `jid`'s bare JID; undefined when it is not one an address can carry. */
export function addressOf(jid: Jid): string | undefined {
  try {
    return userAddress(jid.domain, jid.local);
  } catch {
    return undefined;
  }
}

/** The bare JID of user address `address`; undefined when it is not a user's or its name cannot be a localpart. */
export function jidOf(address: string): string | undefined {
  try {
    const { scheme, domain, path } = parseAddress(address);
    const [name] = path;
    if (scheme !== 'user' || path.length !== 1 || !name || [...name].some((c) => FORBIDDEN_LOCAL.has(c)))
      return undefined;
    return `${name}@${domain}`;
  } catch {
    return undefined;
  }
}

/** `jid`'s bare form, `local@domain`. */
export function bare(jid: Jid): string {
  return `${jid.local}@${jid.domain}`;
}

/** `jid` as written: bare, or `local@domain/resource`. */
export function full(jid: Jid): string {
  return jid.resource === undefined ? bare(jid) : `${bare(jid)}/${jid.resource}`;
}
