/**
 * Header field names. Names are case-insensitive (RFC 3261 §7.3.1) and several have a compact
 * form (RFC 3261 §7.3.3 and the IANA SIP header registry). A name is written in its full,
 * registered spelling; an unknown name is kept as it was written.
 */

const KNOWN = [
  'Accept',
  'Accept-Contact',
  'Accept-Encoding',
  'Accept-Language',
  'Alert-Info',
  'Allow',
  'Allow-Events',
  'Authentication-Info',
  'Authorization',
  'Call-ID',
  'Call-Info',
  'Contact',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Content-Length',
  'Content-Type',
  'CSeq',
  'Date',
  'Error-Info',
  'Event',
  'Expires',
  'Flow-Timer',
  'From',
  'Identity',
  'In-Reply-To',
  'Max-Forwards',
  'MIME-Version',
  'Min-Expires',
  'Min-SE',
  'Organization',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'Path',
  'Priority',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Proxy-Require',
  'RAck',
  'Reason',
  'Record-Route',
  'Refer-To',
  'Referred-By',
  'Reject-Contact',
  'Replaces',
  'Reply-To',
  'Request-Disposition',
  'Require',
  'Retry-After',
  'Route',
  'RSeq',
  'Server',
  'Service-Route',
  'Session-Expires',
  'SIP-ETag',
  'SIP-If-Match',
  'Subject',
  'Subscription-State',
  'Supported',
  'Timestamp',
  'To',
  'Unsupported',
  'User-Agent',
  'Via',
  'Warning',
  'WWW-Authenticate',
];

/** RFC 3261 §7.3.3 compact forms, and those later RFCs registered (RFC 3265, 3515, 3892, 4028, 8224, 3841). */
const COMPACT: Record<string, string> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  u: 'Allow-Events',
  r: 'Refer-To',
  b: 'Referred-By',
  x: 'Session-Expires',
  y: 'Identity',
  a: 'Accept-Contact',
  j: 'Reject-Contact',
  d: 'Request-Disposition',
};

/** A header name as it is written and the key it is looked up by. */
export interface HeaderName {
  /** The full registered spelling, or the name as written when unknown. */
  readonly name: string;
  /** Lower-case full name: what two spellings of one header share. */
  readonly key: string;
}

const byLower = new Map<string, HeaderName>();
for (const name of KNOWN) byLower.set(name.toLowerCase(), { name, key: name.toLowerCase() });
for (const [letter, full] of Object.entries(COMPACT)) byLower.set(letter, byLower.get(full.toLowerCase())!);
// The spellings met on the wire most often skip the lower-casing.
const byExact = new Map<string, HeaderName>(byLower);
for (const name of KNOWN) byExact.set(name, byLower.get(name.toLowerCase())!);
for (const letter of Object.keys(COMPACT)) byExact.set(letter.toUpperCase(), byLower.get(letter)!);

// Header lines mostly spell names as registered; finding those in place, by length and first
// letter, spares the parser a substring and a hash per line.
const bySpelling: (Array<readonly [string, HeaderName]> | undefined)[] = [];
for (const entry of byExact) {
  const bucket = entry[0].length * 128 + entry[0].charCodeAt(0);
  bySpelling[bucket] = [...(bySpelling[bucket] ?? []), entry];
}

/**
 * The header name written in `text` from `start` to `end` when it is spelled as registered (in
 * full or compact, or all lower-case); undefined otherwise, and then {@link headerName} decides.
 */
export function knownHeaderAt(text: string, start: number, end: number): HeaderName | undefined {
  const first = text.charCodeAt(start);
  const candidates = first < 128 ? bySpelling[(end - start) * 128 + first] : undefined;
  if (candidates)
    for (const [spelling, name] of candidates) if (text.startsWith(spelling, start)) return name;
  return undefined;
}

/** RFC 3261 §7.3.1 / §7.3.3: the full spelling and lookup key of header name `name` (a compact form included). */
export function headerName(name: string): HeaderName {
  const known = byExact.get(name);
  if (known) return known;
  const lower = name.toLowerCase();
  return byLower.get(lower) ?? { name, key: lower };
}
