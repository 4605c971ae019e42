import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { md5Hex } from './md5.js';
import { sha256Hex } from './sha256.js';

const node = (algorithm: string, text: string) => createHash(algorithm).update(text, 'utf8').digest('hex');

describe('md5Hex and sha256Hex', () => {
  it('give the RFC 1321 and FIPS 180-2 test vectors', () => {
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex('abc')).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(md5Hex('12345678901234567890123456789012345678901234567890123456789012345678901234567890')).toBe(
      '57edf4a22be3c955ac49da2e2107b67a',
    );
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agree with node:crypto on the UTF-8 bytes of any text, across block boundaries', () => {
    for (let n = 0; n < 140; n++) {
      const text = 'é'.repeat(n % 7) + 'x'.repeat(n);
      expect(md5Hex(text)).toBe(node('md5', text));
      expect(sha256Hex(text)).toBe(node('sha256', text));
    }
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        expect(md5Hex(text)).toBe(node('md5', text));
        expect(sha256Hex(text)).toBe(node('sha256', text));
      }),
    );
  });
});
