import { MAX_DERIVED_BITS, MAX_PBKDF2_ITERATIONS } from '../worker/compartment.js';

/** A key as the isolate keeps it (isolate-entry.ts): raw bytes (latin-1), algorithm, usages. */
interface RawKey {
  readonly raw: string;
  readonly algorithm: AlgorithmIdentifier | HmacImportParams;
  readonly usages: KeyUsage[];
}

const bytes = (latin1: string) => Buffer.from(latin1, 'latin1');

/**
 * Runs a `crypto.subtle` operation an isolate asked for, as the worker host's thread pool runs
 * a worker's: `digest`, HMAC `sign`, PBKDF2 `deriveBits`. The compartment's wrapper
 * (worker/compartment.ts) bounds them first; the bounds on work that leaves the isolate are
 * checked here again, as the isolate is the stubs' side. Answers the result as latin-1.
 *
 * @param args the operation's algorithm, as JSON; `data` and `key` as the isolate sent them.
 */
export async function runSubtle(op: string, args: string, data: string, key: string): Promise<string> {
  const { subtle } = globalThis.crypto;
  const importRaw = async () => {
    const { raw, algorithm, usages } = JSON.parse(key) as RawKey;
    return subtle.importKey('raw', bytes(raw), algorithm, false, usages);
  };
  let result: ArrayBuffer;
  if (op === 'digest') result = await subtle.digest(JSON.parse(args) as AlgorithmIdentifier, bytes(data));
  else if (op === 'sign')
    result = await subtle.sign(JSON.parse(args) as AlgorithmIdentifier, await importRaw(), bytes(data));
  else if (op === 'deriveBits') {
    const { name, hash, salt, iterations, length } = JSON.parse(args) as Pbkdf2Params & {
      salt: string;
      length: number;
    };
    if (
      name !== 'PBKDF2' ||
      !(iterations >= 1 && iterations <= MAX_PBKDF2_ITERATIONS) ||
      !(length <= MAX_DERIVED_BITS)
    )
      throw new RangeError('crypto.subtle: deriveBits out of bounds');
    result = await subtle.deriveBits(
      { name, hash, salt: bytes(salt), iterations },
      await importRaw(),
      length,
    );
  } else throw new TypeError(`crypto.subtle: ${op} is not offered`);
  return Buffer.from(result).toString('latin1');
}
