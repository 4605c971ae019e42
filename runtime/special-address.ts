import type { AddressClass } from '../core/generated/types.js';

/**
 * Which special class a host or an IP address belongs to (see `schemas/runtime-policy.schema.json`),
 * or undefined for an ordinary DNS name or a global address. Takes what WHATWG URL parsing
 * leaves as a hostname (IPv4 normalized to dotted decimal, IPv6 in brackets) and what DNS
 * answers. Browser-safe: no `node:net`.
 *
 * Fails closed: an IPv6 address outside global unicast (2000::/3) is `special` unless a rule
 * below names a narrower class; IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4
 * address they carry.
 */
export function addressClass(host: string): AddressClass | undefined {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback';
  const v4 = parseIPv4(name);
  if (v4 !== undefined) return classOf4(v4);
  const v6 = parseIPv6(name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name);
  return v6 === undefined ? undefined : classOf6(v6);
}

/** [prefix, prefix length, class], IPv4 (RFC 6890 and IANA's special-purpose registry). */
const V4_RANGES: readonly (readonly [number, number, AddressClass])[] = [
  [ip4(0, 0, 0, 0), 8, 'special'],
  [ip4(10, 0, 0, 0), 8, 'private'],
  [ip4(100, 64, 0, 0), 10, 'private'],
  [ip4(127, 0, 0, 0), 8, 'loopback'],
  [ip4(169, 254, 0, 0), 16, 'link-local'],
  [ip4(172, 16, 0, 0), 12, 'private'],
  [ip4(192, 0, 0, 0), 24, 'special'],
  [ip4(192, 0, 2, 0), 24, 'special'],
  [ip4(192, 88, 99, 0), 24, 'special'],
  [ip4(192, 168, 0, 0), 16, 'private'],
  [ip4(198, 18, 0, 0), 15, 'special'],
  [ip4(198, 51, 100, 0), 24, 'special'],
  [ip4(203, 0, 113, 0), 24, 'special'],
  // Multicast, reserved and broadcast.
  [ip4(224, 0, 0, 0), 3, 'special'],
];

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function classOf4(address: number): AddressClass | undefined {
  for (const [prefix, bits, cls] of V4_RANGES) {
    const mask = (0xffffffff << (32 - bits)) >>> 0;
    if ((address & mask) >>> 0 === prefix) return cls;
  }
  return undefined;
}

function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ip4(parts[0]!, parts[1]!, parts[2]!, parts[3]!);
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or undefined when it is none. */
function parseIPv6(text: string): number[] | undefined {
  const address = text.split('%')[0]!;
  if (!address.includes(':') || !/^[0-9a-f:.]+$/.test(address)) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function classOf6(g: number[]): AddressClass | undefined {
  const v4At = (i: number) => ((g[i]! << 16) | g[i + 1]!) >>> 0;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7)) return g[7] === 1 ? 'loopback' : 'special';
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address is what a socket reaches.
  if (zeroUpTo(5) && g[5] === 0xffff) return classOf4(v4At(6));
  // NAT64 (64:ff9b::/96) translates to the IPv4 address it carries.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return classOf4(v4At(6));
  // 6to4 (2002::/16) tunnels to the IPv4 address it carries.
  if (g[0] === 0x2002) return classOf4(v4At(1)) ?? 'special';
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'private';
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  // Site-local (deprecated, fec0::/10): private in effect.
  if ((first & 0xffc0) === 0xfec0) return 'private';
  // IETF protocol assignments (2001::/23, Teredo among them) and documentation (2001:db8::/32).
  if (first === 0x2001 && (g[1]! < 0x200 || g[1] === 0xdb8)) return 'special';
  // Global unicast is 2000::/3; everything else (::/8, 100::/64, multicast ff00::/8, ...) is special.
  return (first & 0xe000) === 0x2000 ? undefined : 'special';
}
