/** Lower-case hex of `words`, each a 32-bit word written big-endian (SHA-2) or little-endian (MD5). */
export function hexWords(words: ArrayLike<number>, littleEndian: boolean): string {
  let out = '';
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    for (let b = 0; b < 4; b++) {
      const shift = littleEndian ? b * 8 : 24 - b * 8;
      out += ((w >>> shift) & 0xff).toString(16).padStart(2, '0');
    }
  }
  return out;
}

/**
 * `bytes` padded as MD5 and SHA-256 pad (RFC 1321 §3.1-3.2, FIPS 180-4 §5.1.1): a 1 bit, zeros
 * to 56 mod 64 bytes, then the bit length in 64 bits, little-endian for MD5, big-endian for SHA.
 * Returned as 32-bit words in the same byte order.
 */
export function paddedWords(bytes: Uint8Array, littleEndian: boolean): Uint32Array {
  const blocks = ((bytes.length + 8) >>> 6) + 1;
  const padded = new Uint8Array(blocks * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const bits = bytes.length * 8;
  const view = new DataView(padded.buffer);
  const end = padded.length - 8;
  // Bit lengths past 2**32 need the high word: messages here are far smaller, but be exact.
  const high = Math.floor(bits / 2 ** 32);
  if (littleEndian) {
    view.setUint32(end, bits >>> 0, true);
    view.setUint32(end + 4, high, true);
  } else {
    view.setUint32(end, high, false);
    view.setUint32(end + 4, bits >>> 0, false);
  }
  const words = new Uint32Array(blocks * 16);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(i * 4, littleEndian);
  return words;
}
