import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, ScramClient, toBase64, utf8 } from './scram.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString();

/** The exchanges of RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256): user "user", password "pencil". */
const VECTORS = [
  {
    hash: 'SHA-1',
    nonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  {
    hash: 'SHA-256',
    nonce: 'rOprNGfwEbeRWgbNEkqO',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal:
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
] as const;

describe('SCRAM', () => {
  it.each(VECTORS)('computes the proof and checks the signature of the RFC exchange ($hash)', async (v) => {
    const client = new ScramClient(v.hash, 'user', 'pencil', v.nonce, 10_000);
    expect(unb64(client.first())).toBe(`n,,n=user,r=${v.nonce}`);
    expect(unb64(await client.final(b64(v.serverFirst)))).toBe(v.clientFinal);
    expect(() => client.verify(b64(v.serverFinal))).not.toThrow();
  });

  it.each([
    ['a nonce that does not extend ours', 'r=other,s=QSXCR+Q6sek8bf92,i=4096', 'nonce'],
    ['our nonce unextended', 'r=fyko,s=QSXCR+Q6sek8bf92,i=4096', 'nonce'],
    ['too many iterations', 'r=fykoX,s=QSXCR+Q6sek8bf92,i=2000000000', 'iteration count'],
    ['no iteration count', 'r=fykoX,s=QSXCR+Q6sek8bf92', 'iteration count'],
    ['a salt that is not base64', 'r=fykoX,s=!!,i=4096', 'salt'],
    ['an extension', 'm=x,r=fykoX,s=QSXCR+Q6sek8bf92,i=4096', 'extension'],
    ['no SCRAM at all', 'hello', 'not SCRAM'],
  ])('refuses a server-first-message with %s (PF_ERR_AUTH)', async (_, serverFirst, why) => {
    const client = new ScramClient('SHA-1', 'user', 'pencil', 'fyko', 10_000);
    await expect(client.final(b64(serverFirst))).rejects.toMatchObject({
      code: 'PF_ERR_AUTH',
      message: expect.stringContaining(why),
    });
  });

  it('refuses a server that does not prove it knows the password, or says e=', async () => {
    const v = VECTORS[0];
    const client = new ScramClient(v.hash, 'user', 'pencil', v.nonce, 10_000);
    await client.final(b64(v.serverFirst));
    expect(() => client.verify(b64('v=AAAAAAAAAAAAAAAAAAAAAAAAAAA='))).toThrow(/signature is wrong/);
    expect(() => client.verify(b64('e=invalid-proof'))).toThrow(/invalid-proof/);
    expect(() => client.verify('not base64!')).toThrow(/signature is wrong/);
  });

  it('refuses a second challenge: one PBKDF2 per exchange', async () => {
    const v = VECTORS[0];
    const client = new ScramClient(v.hash, 'user', 'pencil', v.nonce, 10_000);
    await client.final(b64(v.serverFirst));
    await expect(client.final(b64(v.serverFirst))).rejects.toMatchObject({
      code: 'PF_ERR_AUTH',
      message: expect.stringContaining('challenged twice'),
    });
  });

  it('escapes , and = in the user name (RFC 5802 §5.1)', () => {
    const client = new ScramClient('SHA-1', 'a=b,c', 'pw', 'n', 10);
    expect(unb64(client.first())).toBe('n,,n=a=3Db=2Cc,r=n');
  });

  it("agrees with Node's base64 and UTF-8 (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'grapheme' }), (bytes, text) => {
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
        expect(Buffer.from(utf8(text)).equals(Buffer.from(text))).toBe(true);
      }),
    );
    expect(fromBase64('abc')).toBeUndefined();
    expect(fromBase64('ab=c')).toBeUndefined();
  });
});
