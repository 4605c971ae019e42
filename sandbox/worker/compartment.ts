/**
 * Package evaluation under SES: one Compartment per package version, after `lockdown()`.
 * A compartment's global object holds the frozen shared intrinsics and nothing else: no
 * `process`, `require`, `fetch`, `WebSocket`, timers or the worker's own `globalThis`.
 */

import { RateLimit } from './rate.js';

// SES installs these globals; they are declared here rather than through `ses`'s types so
// that they exist for this file only, never for host code (which must not lock down).
declare const Compartment: new (options: {
  globals: object;
  name: string;
  __options__: true;
}) => { evaluate(source: string): unknown };
declare const harden: <T>(value: T) => T;

let endowments: object | undefined;

/**
 * The powers a stub gets beyond the shared intrinsics. SES compartments have no clock and no
 * randomness (`Date.now()` and `Math.random()` throw there); stubs need both for protocol
 * timers and ids. Everything is the start compartment's, hardened by lockdown, or a hardened
 * wrapper that exposes one function and not the host object behind it.
 */
function stubEndowments(): object {
  endowments ??= harden({
    Date: globalThis.Date,
    Math: globalThis.Math,
    crypto: {
      getRandomValues: <T extends ArrayBufferView>(array: T): T => globalThis.crypto.getRandomValues(array),
      randomUUID: (): string => globalThis.crypto.randomUUID(),
      subtle: subtleEndowment(),
    },
  });
  return endowments;
}

/**
 * PBKDF2 iterations a stub may ask for in one call, and in a minute (a token bucket): the work
 * runs in the engine's thread pool, off the stub's thread, where no watchdog reaches. A SCRAM
 * log-in takes 4096 to about 100 000 (RFC 7677); a stub looping on PBKDF2 would take the pool
 * the whole runtime shares.
 */
export const MAX_PBKDF2_ITERATIONS = 1_000_000;
/** Bits `deriveBits` gives at most (SCRAM needs a hash's length). */
export const MAX_DERIVED_BITS = 512;

/**
 * The part of WebCrypto a stub needs to authenticate (SASL SCRAM: PBKDF2, HMAC, digests):
 * `importKey('raw', ...)`, `sign`, `deriveBits` (PBKDF2) and `digest`. A key is a hardened empty
 * object standing for the host's `CryptoKey`, which never reaches the compartment (its prototype
 * is a host object SES does not freeze). PBKDF2 runs in the engine's thread pool, out of the
 * watchdog's reach: its iteration count is bounded here, and the algorithm is copied field by
 * field so that what was checked is what runs.
 */
function subtleEndowment(): object {
  const subtle = globalThis.crypto.subtle;
  const keys = new WeakMap<object, CryptoKey>();
  const keyOf = (handle: unknown): CryptoKey => {
    const key = typeof handle === 'object' && handle !== null ? keys.get(handle) : undefined;
    if (!key) throw new TypeError('crypto.subtle: not a key this sandbox made');
    return key;
  };
  const hashOf = (alg: unknown) => String((alg as { hash?: unknown }).hash);
  const budget = new RateLimit(MAX_PBKDF2_ITERATIONS / 60, MAX_PBKDF2_ITERATIONS);
  // One operation at a time: a stub's calls queue no work in the shared pool beyond one.
  let busy = false;
  const one = async <T>(run: () => Promise<T>): Promise<T> => {
    if (busy) throw new RangeError('crypto.subtle: one operation at a time (await the last one)');
    busy = true;
    try {
      return await run();
    } finally {
      busy = false;
    }
  };
  return {
    digest: (alg: string, data: BufferSource) => one(() => subtle.digest(String(alg), data)),
    importKey: async (
      format: string,
      data: BufferSource,
      alg: string | { name: string; hash?: string },
      _extractable: boolean,
      usages: readonly KeyUsage[],
    ) => {
      if (format !== 'raw') throw new TypeError("crypto.subtle: only 'raw' keys are offered");
      const name = String(typeof alg === 'string' ? alg : alg.name);
      const algorithm = name === 'HMAC' ? { name, hash: hashOf(alg) } : name;
      const key = await one(() =>
        subtle.importKey('raw', data, algorithm, false, [...usages].map(String) as KeyUsage[]),
      );
      const handle = harden({});
      keys.set(handle, key);
      return handle;
    },
    sign: (alg: string, key: object, data: BufferSource) =>
      one(() => subtle.sign(String(alg), keyOf(key), data)),
    deriveBits: async (
      alg: { name: string; hash: string; salt: BufferSource; iterations: number },
      key: object,
      length: number,
    ) => {
      const { name, salt, iterations } = alg;
      if (name !== 'PBKDF2') throw new TypeError('crypto.subtle: deriveBits offers PBKDF2 only');
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS)
        throw new RangeError(`crypto.subtle: PBKDF2 iterations must be 1..${MAX_PBKDF2_ITERATIONS}`);
      if (!Number.isInteger(length) || length < 8 || length > MAX_DERIVED_BITS)
        throw new RangeError(`crypto.subtle: deriveBits gives 8..${MAX_DERIVED_BITS} bits`);
      const derive = { name, hash: hashOf(alg), salt, iterations };
      return one(async () => {
        if (!budget.take(iterations))
          throw new RangeError(`crypto.subtle: over ${MAX_PBKDF2_ITERATIONS} PBKDF2 iterations a minute`);
        return subtle.deriveBits(derive, keyOf(key), length);
      });
    },
  };
}

/** Evaluates `script` in a fresh compartment named `name` and returns its completion value. */
export function evaluateInCompartment(script: string, name: string): unknown {
  return new Compartment({ globals: stubEndowments(), name, __options__: true }).evaluate(script);
}
