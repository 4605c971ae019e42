import { describe, expect, it } from 'vitest';
import { parseAuth } from '../message/auth.js';
import { unquote } from '../message/quoted-string.js';
import { answer, pickChallenge } from './digest.js';

const response = (value: ReturnType<typeof answer>) => unquote(value.params.get('response')!);

describe('digest authentication', () => {
  // RFC 7616 §3.9.1: one user, the same nonces, answered in MD5 and SHA-256.
  const rfc7616 = (algorithm: string) =>
    parseAuth(
      `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
    );
  const mufasa = {
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    count: 1,
  };

  it('answers the RFC 7616 §3.9.1 examples in MD5 and SHA-256', () => {
    const md5 = answer(pickChallenge([rfc7616('MD5')]), mufasa);
    expect(response(md5)).toBe('8ca523f5e9506fed4657c9700eebdbec');
    const sha = answer(pickChallenge([rfc7616('SHA-256')]), mufasa);
    expect(response(sha)).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(sha.params.get('nc')).toBe('00000001');
    expect(sha.params.get('qop')).toBe('auth');
    expect(sha.params.get('opaque')).toBe('"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
  });

  it('answers the RFC 2617 §3.5 example, and the RFC 2069 form without qop', () => {
    const c = pickChallenge([
      parseAuth(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      ),
    ]);
    const input = { ...mufasa, password: 'Circle Of Life', cnonce: '0a4f113b' };
    expect(response(answer(c, input))).toBe('6629fae49393a05397450978507c4ef1');
    const bare = pickChallenge([parseAuth('Digest realm="testrealm@host.com", nonce="abc"')]);
    const old = answer(bare, input);
    expect(old.params.has('qop')).toBe(false);
    expect(response(old)).toHaveLength(32);
  });

  it('picks the strongest challenge it speaks, and says what was offered when none fits', () => {
    const both = pickChallenge([rfc7616('MD5'), rfc7616('SHA-256')]);
    expect(both.algorithm).toBe('SHA-256');
    expect(pickChallenge([parseAuth('Digest realm="r", nonce="n", stale=TRUE')]).stale).toBe(true);
    expect(() => pickChallenge([parseAuth('Digest realm="r", nonce="n", algorithm=SHA-512-256')])).toThrow(
      /^PF_ERR_AUTH: .*SHA-512-256/,
    );
    expect(() => pickChallenge([parseAuth('Digest realm="r", nonce="n", qop="auth-int"')])).toThrow(
      /PF_ERR_AUTH/,
    );
    expect(() => pickChallenge([parseAuth('Basic realm="r"')])).toThrow(/offered: Basic/);
  });
});
