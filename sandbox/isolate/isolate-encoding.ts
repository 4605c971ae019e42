// TextEncoder and TextDecoder (WHATWG Encoding, UTF-8) for the sandbox isolate, which V8 alone
// lacks. SES shares both with every compartment, as it does in a worker, so a stub sees them
// on either host. Installed before the array-buffer meter (isolate-meter.ts), which wraps
// `encode` as it wraps the worker's; the bytes are made with the native Uint8Array captured
// here, so the meter charges them once, in its wrapper. Only UTF-8: the one encoding the
// standard requires of every implementation.

const Bytes = Uint8Array;
const REPLACEMENT = 0xfffd;
const LABELS = new Set([
  'utf-8',
  'utf8',
  'unicode-1-1-utf-8',
  'unicode11utf8',
  'unicode20utf8',
  'x-unicode20utf8',
]);

/** UTF-8 bytes of `text`; a lone surrogate becomes U+FFFD, as the standard has it. */
function utf8(text: string): Uint8Array {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i += 1;
    } else length += 3;
  }
  const out = new Bytes(length);
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
      continue;
    }
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c < 0xe000) {
      const next = text.charCodeAt(i + 1);
      if (c < 0xdc00 && (next & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i += 1;
        out[at++] = 0xf0 | (c >> 18);
        out[at++] = 0x80 | ((c >> 12) & 0x3f);
        out[at++] = 0x80 | ((c >> 6) & 0x3f);
        out[at++] = 0x80 | (c & 0x3f);
        continue;
      }
      c = REPLACEMENT;
    }
    out[at++] = 0xe0 | (c >> 12);
    out[at++] = 0x80 | ((c >> 6) & 0x3f);
    out[at++] = 0x80 | (c & 0x3f);
  }
  return out;
}

/** The bytes of a BufferSource, as a view (no copy). */
function view(input: unknown): Uint8Array {
  if (input === undefined) return new Bytes(0);
  if (input instanceof ArrayBuffer) return new Bytes(input);
  if (ArrayBuffer.isView(input)) return new Bytes(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('TextDecoder.decode: the input is not an ArrayBuffer or a view of one');
}

class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }

  encode(input?: unknown): Uint8Array {
    return utf8(input === undefined ? '' : String(input));
  }

  encodeInto(input: unknown, destination: Uint8Array): { read: number; written: number } {
    const text = String(input);
    let read = 0;
    let written = 0;
    // Code point by code point, until the next one does not fit.
    while (read < text.length) {
      const c = text.charCodeAt(read);
      const pair = c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(read + 1) & 0xfc00) === 0xdc00;
      const bytes = utf8(text.slice(read, read + (pair ? 2 : 1)));
      if (written + bytes.length > destination.length) break;
      destination.set(bytes, written);
      written += bytes.length;
      read += pair ? 2 : 1;
    }
    return { read, written };
  }
}

class TextDecoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  /** Bytes of a sequence cut by the end of a streamed chunk. */
  #pending: number[] = [];
  #started = false;

  constructor(label: unknown = 'utf-8', options: { fatal?: unknown; ignoreBOM?: unknown } = {}) {
    const name = String(label).trim().toLowerCase();
    if (!LABELS.has(name))
      throw new RangeError(`TextDecoder: the encoding '${name}' is not offered (UTF-8 only)`);
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
  }

  get encoding(): string {
    return 'utf-8';
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: unknown, options: { stream?: unknown } = {}): string {
    const stream = Boolean(options?.stream);
    const chunk = view(input);
    const bytes = this.#pending.length > 0 ? [...this.#pending, ...chunk] : chunk;
    this.#pending = [];
    const units: number[] = [];
    let text = '';
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i]!;
      let need = 0;
      let cp = b;
      let min = 0;
      if (b >= 0xc2 && b <= 0xdf) [need, cp, min] = [1, b & 0x1f, 0x80];
      else if (b >= 0xe0 && b <= 0xef) [need, cp, min] = [2, b & 0x0f, 0x800];
      else if (b >= 0xf0 && b <= 0xf4) [need, cp, min] = [3, b & 0x07, 0x10000];
      else if (b >= 0x80) {
        units.push(this.#bad());
        i += 1;
        continue;
      }
      let j = 1;
      for (; j <= need && i + j < bytes.length; j++) {
        const next = bytes[i + j]!;
        // The standard's bounds on the second byte rule out overlongs, surrogates and > U+10FFFF.
        const low = j === 1 && b === 0xe0 ? 0xa0 : j === 1 && b === 0xf0 ? 0x90 : 0x80;
        const high = j === 1 && b === 0xed ? 0x9f : j === 1 && b === 0xf4 ? 0x8f : 0xbf;
        if (next < low || next > high) break;
        cp = (cp << 6) | (next & 0x3f);
      }
      if (j <= need) {
        // Cut by the end of the input: kept for the next chunk when streaming.
        if (i + j >= bytes.length && stream) {
          this.#pending = [...bytes.slice(i)];
          break;
        }
        units.push(this.#bad());
        i += j;
        continue;
      }
      i += need + 1;
      if (cp < min) units.push(this.#bad());
      else if (cp >= 0x10000) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
      else units.push(cp);
      if (units.length >= 8192) text += String.fromCharCode(...units.splice(0));
    }
    text += String.fromCharCode(...units);
    if (!this.#started && !this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.#started = stream && (this.#started || text.length > 0);
    return text;
  }

  #bad(): number {
    if (this.#fatal) throw new TypeError('TextDecoder: the data is not valid UTF-8');
    return REPLACEMENT;
  }
}

const scope = globalThis as unknown as Record<string, unknown>;
for (const [name, value] of Object.entries({ TextEncoder, TextDecoder })) {
  // A data property, as on the web's classes (and as SES's permits expect).
  Object.defineProperty(value.prototype, Symbol.toStringTag, { value: name, configurable: true });
  Object.defineProperty(scope, name, { value, writable: true, configurable: true });
}
