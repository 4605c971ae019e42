import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depthOf } from './frames.js';

/** The nesting of a parsed value, the slow and obvious way. */
function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  return 1 + Math.max(0, ...Object.values(v).map(depth));
}

describe('depthOf', () => {
  it('is the nesting of any JSON text, whatever its strings hold (brackets, quotes, backslashes, any character)', () => {
    const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '"]', 'é', '😀', '\u0000');
    const strings = fc.array(fc.oneof(tricky, fc.string()), { maxLength: 8 }).map((parts) => parts.join(''));
    const values = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        strings,
        fc.integer(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(strings, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(values, fc.boolean(), (v, spaced) => {
        const text = JSON.stringify(v, null, spaced ? 2 : undefined);
        expect(depthOf(Buffer.from(text))).toBe(depth(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('counts thousands of levels without recursing', () => {
    expect(depthOf(Buffer.from(`${'[{"a":'.repeat(50_000)}1${'}]'.repeat(50_000)}`))).toBe(100_000);
  });
});
