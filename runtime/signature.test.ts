import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import type { Descriptor } from '../core/plugin.js';
import { signingInput } from './signature.js';

/** The value a JSON pointer names in `root`. */
function at(root: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], root);
}

describe('signingInput', () => {
  it('canonicalises anything JSON can hold, and refuses the rest with PF_ERR_SIGNATURE naming where', () => {
    const lone = fc.string({ unit: 'binary', maxLength: 8 }).map((s) => `${s}\udc00`);
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        lone,
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 10n),
        fc.array(tie('any'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), lone), tie('any'), { maxKeys: 3 }),
      ),
    })).any;
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 4 }), (d) => {
        let outcome: unknown;
        try {
          outcome = signingInput(d as unknown as Descriptor);
        } catch (err) {
          outcome = err;
        }
        if (outcome instanceof Uint8Array) return;
        expect(isProtoflyError(outcome, 'PF_ERR_SIGNATURE'), String(outcome)).toBe(true);
        const { pointer } = (outcome as { detail: { pointer: string } }).detail;
        const key = pointer.split('/').at(-1)!.replace(/~1/g, '/').replace(/~0/g, '~');
        const offending = at(d, pointer);
        // The pointer names a value JCS has no form for, or a member whose name is not well-formed.
        const bad = (v: unknown) =>
          (typeof v === 'string' && /\p{Cs}/u.test(v)) ||
          (typeof v === 'number' && !Number.isFinite(v)) ||
          typeof v === 'bigint';
        expect(bad(offending) || bad(key), `${pointer} in ${String(outcome)}`).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a cycle with PF_ERR_SIGNATURE, not a stack overflow', () => {
    const d: Record<string, unknown> = { name: 'x', nested: { list: [] as unknown[] } };
    (d.nested as { list: unknown[] }).list.push(d);
    expect(() => signingInput(d as unknown as Descriptor)).toThrow(
      /PF_ERR_SIGNATURE: descriptor: \/nested\/list\/0\/nested cannot be canonicalised \(RFC 8785\): Circular reference/,
    );
  });
});
