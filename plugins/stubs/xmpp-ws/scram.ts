import { ProtoflyError } from 'protofly/stub';

/**
 * The client side of SASL SCRAM (RFC 5802), with SHA-1 and SHA-256 (RFC 7677), its PBKDF2 and
 * HMACs through WebCrypto (`crypto.subtle`, which the sandbox offers stubs: see
 * sandbox/worker/compartment.ts). No channel binding (`n,,`): RFC 7395 over ws:// has none, and
 * over wss:// the host owns TLS. The server's first message is untrusted: its nonce must extend
 * ours, its iteration count stay within `maxIterations`, and its final signature prove it knows
 * the password too, else the exchange is refused.
 */

/** Bytes WebCrypto takes (on an ArrayBuffer, not a shared one). */
type Bytes = Uint8Array<ArrayBuffer>;

export type ScramHash = 'SHA-1' | 'SHA-256';

/** The SASL mechanism names, strongest first. */
export const SCRAM_MECHANISMS: Readonly<Record<string, ScramHash>> = {
  'SCRAM-SHA-256': 'SHA-256',
  'SCRAM-SHA-1': 'SHA-1',
};

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `bytes` in base64 (RFC 4648 §4, padded). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i]!, bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]!;
    out += b === undefined ? '=' : BASE64[(n >> 6) & 63]!;
    out += c === undefined ? '=' : BASE64[n & 63]!;
  }
  return out;
}

/** Decodes padded base64; undefined for anything else (white space included: SASL sends none). */
export function fromBase64(text: string): Bytes | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = text[i + j]!;
      const v = ch === '=' && i + j >= text.length - pad ? 0 : BASE64.indexOf(ch);
      if (v < 0) return undefined;
      n = (n << 6) | v;
    }
    for (const byte of [n >> 16, (n >> 8) & 255, n & 255]) if (o < out.length) out[o++] = byte;
  }
  return out;
}

/** `text` in UTF-8 (the sandbox has no TextEncoder). Lone surrogates become U+FFFD. */
export function utf8(text: string): Bytes {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.codePointAt(i)!;
    if (c > 0xffff) i++;
    else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** Printable ASCII bytes as text; undefined if any byte is not (SCRAM's server messages are). */
function ascii(bytes: Uint8Array): string | undefined {
  let out = '';
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

/** The `k=v` attributes of a SCRAM message; undefined when it is not one. */
function attributes(message: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') return undefined;
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** Refuses the exchange: the server's message is not what SCRAM allows (`PF_ERR_AUTH`). */
function refuse(why: string): never {
  throw new ProtoflyError('PF_ERR_AUTH', `SCRAM: ${why}`);
}

const bytesOf = (buffer: ArrayBuffer) => new Uint8Array(buffer);

async function hmac(hash: ScramHash, key: Bytes, data: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash }, false, ['sign']);
  return bytesOf(await crypto.subtle.sign('HMAC', k, data));
}

/** One SCRAM exchange, as a client: `first()`, then `final(serverFirst)`, then `verify(serverFinal)`. */
export class ScramClient {
  readonly #hash: ScramHash;
  readonly #user: string;
  readonly #password: string;
  readonly #nonce: string;
  readonly #maxIterations: number;
  #serverSignature: Bytes | undefined;
  #challenged = false;

  /** `nonce` is printable ASCII without ','; `maxIterations` bounds the server's `i`. */
  constructor(hash: ScramHash, user: string, password: string, nonce: string, maxIterations: number) {
    this.#hash = hash;
    // RFC 5802 §5.1: ',' and '=' in a name are escaped.
    this.#user = user.replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.#password = password;
    this.#nonce = nonce;
    this.#maxIterations = maxIterations;
  }

  get #firstBare(): string {
    return `n=${this.#user},r=${this.#nonce}`;
  }

  /** The client-first-message, base64 (what `<auth>` carries). */
  first(): string {
    return toBase64(utf8(`n,,${this.#firstBare}`));
  }

  /**
   * The client-final-message for the server-first-message `challenge` (both base64).
   *
   * @throws ProtoflyError `PF_ERR_AUTH` when the challenge is not SCRAM's, its nonce does not
   *   extend ours, its iteration count is out of bounds, or it is a second one.
   */
  async final(challenge: string): Promise<string> {
    // One PBKDF2 per exchange: a server that challenges again would have the stub hash for it.
    if (this.#challenged) refuse('the server challenged twice');
    this.#challenged = true;
    const bytes = fromBase64(challenge);
    const serverFirst = bytes && ascii(bytes);
    const attrs = serverFirst === undefined ? undefined : attributes(serverFirst);
    if (!attrs || serverFirst === undefined) return refuse('the server-first-message is not SCRAM');
    const nonce = attrs.get('r');
    const salt = fromBase64(attrs.get('s') ?? '');
    const iterations = Number(attrs.get('i'));
    if (attrs.has('m')) refuse('the server asks for an extension this client does not know');
    if (!nonce?.startsWith(this.#nonce) || nonce.length === this.#nonce.length)
      refuse("the server's nonce does not extend the client's");
    if (!salt || salt.length === 0) refuse('the salt is not base64');
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > this.#maxIterations)
      refuse(`the iteration count ${attrs.get('i')} is outside 1..${this.#maxIterations}`);
    const finalBare = `c=biws,r=${nonce}`;
    const authMessage = utf8(`${this.#firstBare},${serverFirst},${finalBare}`);
    const hash = this.#hash;
    const bits = hash === 'SHA-1' ? 160 : 256;
    const base = await crypto.subtle.importKey('raw', utf8(this.#password), 'PBKDF2', false, ['deriveBits']);
    const salted = bytesOf(
      await crypto.subtle.deriveBits({ name: 'PBKDF2', hash, salt, iterations }, base, bits),
    );
    const clientKey = await hmac(hash, salted, utf8('Client Key'));
    const storedKey = bytesOf(await crypto.subtle.digest(hash, clientKey));
    const signature = await hmac(hash, storedKey, authMessage);
    const proof = clientKey.map((b, i) => b ^ signature[i]!);
    this.#serverSignature = await hmac(hash, await hmac(hash, salted, utf8('Server Key')), authMessage);
    return toBase64(utf8(`${finalBare},p=${toBase64(proof)}`));
  }

  /**
   * Checks the server-final-message (base64, what `<success>` carries): the server proves it
   * knows the password.
   *
   * @throws ProtoflyError `PF_ERR_AUTH` when it is an error (`e=`) or its signature is wrong.
   */
  verify(outcome: string): void {
    const bytes = fromBase64(outcome);
    const attrs = bytes && attributes(ascii(bytes) ?? '');
    const error = attrs?.get('e');
    if (error !== undefined) refuse(`the server says ${error}`);
    const expected = this.#serverSignature;
    if (!expected || attrs?.get('v') !== toBase64(expected))
      refuse("the server's signature is wrong: it does not know the password");
  }
}
