import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8, encodeUtf8, utf8End, utf8Length } from './utf8.js';

/** The platform's codecs are the oracle (the module itself must not need them: SES lacks them). */
const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const platformDecode = (bytes: Uint8Array): string | undefined => {
  try {
    return fatal.decode(bytes);
  } catch {
    return undefined;
  }
};

describe('utf8', () => {
  it('encodes as TextEncoder does, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const bytes = encodeUtf8(s);
        expect(bytes).toEqual(new TextEncoder().encode(s));
        expect(utf8Length(s)).toBe(bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes strictly as a fatal TextDecoder does', () => {
    const nearUtf8 = fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5),
      ),
      {
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(nearUtf8, (list) => {
        const bytes = Uint8Array.from(list);
        expect(decodeUtf8(bytes)).toBe(platformDecode(bytes));
      }),
      { numRuns: 2000 },
    );
    expect(decodeUtf8(encodeUtf8('a€😀'))).toBe('a€😀');
  });

  it('decodes leniently with U+FFFD for each offending byte', () => {
    expect(decodeUtf8(Uint8Array.from([0x61, 0xff, 0xc3, 0xa9, 0xc3]), false)).toBe('a\uFFFDé\uFFFD');
    expect(decodeUtf8(Uint8Array.from([0xed, 0xa0, 0x80]), false)).toBe('\uFFFD\uFFFD\uFFFD');
  });

  it('finds where a byte count ends, refusing one that ends inside a character', () => {
    const s = 'ab€d';
    expect([utf8End(s, 0, 2), utf8End(s, 0, 5), utf8End(s, 1, 5)]).toEqual([2, 3, 4]);
    expect([utf8End(s, 0, 3), utf8End(s, 0, 7)]).toEqual([-1, -1]);
    expect(utf8End('😀x', 0, 4)).toBe(2);
  });
});
