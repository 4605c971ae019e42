/**
 * The `from` addresses a conversation's stub may send with. An entry is an exact address, or
 * a prefix ending in `/` that covers every address under it (`hyperty://b.example/` covers
 * `hyperty://b.example/x`). Compiled once per conversation; the check is a set lookup plus
 * one `startsWith` per prefix.
 */
export type SenderCheck = (from: string) => boolean;

/** Compiles the allowed senders of one conversation. */
export function allowSenders(allowed: readonly string[]): SenderCheck {
  const exact = new Set(allowed.filter((a) => !a.endsWith('/')));
  const prefixes = allowed.filter((a) => a.endsWith('/'));
  if (prefixes.length === 0) return (from) => exact.has(from);
  return (from) => exact.has(from) || prefixes.some((p) => from.startsWith(p) && from.length > p.length);
}
