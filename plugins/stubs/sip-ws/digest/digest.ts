import { ProtoflyError } from '../../../../core/errors.js';
import type { AuthValue } from '../message/auth.js';
import { quote, unquote } from '../message/quoted-string.js';
import { md5Hex } from './md5.js';
import { sha256Hex } from './sha256.js';

/**
 * HTTP digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617, RFC 7616 §3.4;
 * RFC 8760 for SHA-256 in SIP): reading a challenge and answering it.
 */

/** The algorithms answered, strongest first: the order a UAC picks in (RFC 8760 §2.4). */
const ALGORITHMS = {
  'SHA-256': sha256Hex,
  'SHA-256-sess': sha256Hex,
  MD5: md5Hex,
  'MD5-sess': md5Hex,
} as const;

export type Algorithm = keyof typeof ALGORITHMS;

/** A `Digest` challenge from WWW-Authenticate or Proxy-Authenticate, unquoted. */
export interface Challenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string | undefined;
  readonly algorithm: Algorithm;
  /** `auth` when the server offers it; undefined for the RFC 2069 form without qop. */
  readonly qop: 'auth' | undefined;
  /** The nonce was stale: the credentials were right, only the nonce is new (RFC 7616 §3.3). */
  readonly stale: boolean;
}

/** Who answers and what is signed. */
export interface DigestInput {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  /** The digest-uri: the Request-URI as sent. */
  readonly uri: string;
  /** Client nonce, fresh per challenge. */
  readonly cnonce: string;
  /** How many requests this nonce has signed, this one included (RFC 7616 §3.4 nc). */
  readonly count: number;
}

const param = (a: AuthValue, name: string): string | undefined => {
  const v = a.params.get(name);
  return v === undefined || v === null ? undefined : v.charCodeAt(0) === 0x22 ? unquote(v) : v;
};

/** The strength rank of an algorithm name (lower is stronger), or -1 when not answered. */
function rank(name: string): number {
  return Object.keys(ALGORITHMS).findIndex((a) => a.toLowerCase() === name.toLowerCase());
}

/**
 * The challenge to answer among `offers` (every WWW- or Proxy-Authenticate of one response):
 * the strongest Digest challenge this stub speaks (RFC 8760 §2.4), qop `auth` or none.
 *
 * @throws ProtoflyError `PF_ERR_AUTH` naming what was offered when nothing fits.
 */
export function pickChallenge(offers: readonly AuthValue[]): Challenge {
  let best: Challenge | undefined;
  for (const offer of offers) {
    if (offer.scheme.toLowerCase() !== 'digest') continue;
    const realm = param(offer, 'realm');
    const nonce = param(offer, 'nonce');
    const algorithm = param(offer, 'algorithm') ?? 'MD5';
    const at = rank(algorithm);
    const qops = param(offer, 'qop')
      ?.split(',')
      .map((q) => q.trim().toLowerCase());
    if (realm === undefined || nonce === undefined || at === -1) continue;
    if (qops && !qops.includes('auth')) continue;
    if (best && rank(best.algorithm) <= at) continue;
    best = {
      realm,
      nonce,
      opaque: param(offer, 'opaque'),
      algorithm: Object.keys(ALGORITHMS)[at] as Algorithm,
      qop: qops ? 'auth' : undefined,
      stale: param(offer, 'stale')?.toLowerCase() === 'true',
    };
  }
  if (best) return best;
  const offered = offers.map((o) => `${o.scheme} ${param(o, 'algorithm') ?? ''} ${param(o, 'qop') ?? ''}`);
  throw new ProtoflyError(
    'PF_ERR_AUTH',
    `no challenge this stub can answer (it speaks Digest MD5 and SHA-256 with qop=auth); offered: ${offered.join('; ') || 'none'}`,
    { offered },
  );
}

/**
 * The credentials answering `c` (RFC 7616 §3.4.1): Authorization or Proxy-Authorization value.
 *
 *     response = H( H(A1) ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2) )   (qop=auth)
 *     response = H( H(A1) ":" nonce ":" H(A2) )                              (no qop)
 *     A1 = username ":" realm ":" password   [ ":" nonce ":" cnonce for -sess ]
 *     A2 = method ":" digest-uri
 */
export function answer(c: Challenge, input: DigestInput): AuthValue {
  const h = ALGORITHMS[c.algorithm];
  let ha1 = h(`${input.username}:${c.realm}:${input.password}`);
  if (c.algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${c.nonce}:${input.cnonce}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  const nc = input.count.toString(16).padStart(8, '0');
  const response = c.qop
    ? h(`${ha1}:${c.nonce}:${nc}:${input.cnonce}:${c.qop}:${ha2}`)
    : h(`${ha1}:${c.nonce}:${ha2}`);
  const params = new Map<string, string>([
    ['username', quote(input.username)],
    ['realm', quote(c.realm)],
    ['nonce', quote(c.nonce)],
    ['uri', quote(input.uri)],
    ['response', quote(response)],
    ['algorithm', c.algorithm],
  ]);
  if (c.opaque !== undefined) params.set('opaque', quote(c.opaque));
  if (c.qop) {
    params.set('qop', c.qop);
    params.set('nc', nc);
    params.set('cnonce', quote(input.cnonce));
  }
  return { scheme: 'Digest', params };
}
