/**
 * Reconnect delays: exponential with jitter, socket.io's formula (`delay · 2^attempt`, then
 * ± `randomizationFactor` of it, capped at the maximum).
 *
 * Inside a sandbox compartment `Math.random` is disabled (it would be a covert channel), so the
 * jitter comes from a small PRNG seeded per identity: different users still spread out after
 * a node restart, which is all jitter is for.
 *
 * Part of the stub kit (`protofly/stub`; see entry/stub.ts): every stub that reconnects shares
 * this one, never another stub's folder.
 */
export class Backoff {
  #attempts = 0;
  readonly #random: () => number;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    readonly jitter: number,
    seed: string,
  ) {
    this.#random = mulberry32(fnv1a(seed));
  }

  /** The delay before the next attempt. */
  next(): number {
    let ms = this.minMs * 2 ** this.#attempts++;
    if (this.jitter > 0) {
      const r = this.#random();
      const deviation = Math.floor(r * this.jitter * ms);
      ms = (Math.floor(r * 10) & 1) === 0 ? ms - deviation : ms + deviation;
    }
    return Math.min(ms, this.maxMs) | 0;
  }

  /** Connected: the next failure starts from the shortest delay again. */
  reset(): void {
    this.#attempts = 0;
  }
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mulberry32: a tiny PRNG with a 32-bit state, uniform enough for jitter. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
