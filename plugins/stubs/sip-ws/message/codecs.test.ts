import { describe, expect, it } from 'vitest';
import {
  AUTHORIZATION,
  CALL_ID,
  CONTENT_TYPE,
  CSEQ,
  DATE,
  EXPIRES,
  MAX_FORWARDS,
  WWW_AUTHENTICATE,
} from './codecs.js';

describe('header codecs', () => {
  it('CSeq: sequence number below 2**31, LWS, method token', () => {
    expect(CSEQ.parse('0009  INVITE')).toEqual({ seq: 9, method: 'INVITE' });
    expect(CSEQ.parse('2147483647 BYE').seq).toBe(2147483647);
    expect(() => CSEQ.parse('2147483648 BYE')).toThrow(/larger than 2147483647/);
    expect(() => CSEQ.parse('1INVITE')).toThrow(/sequence number, white space and a method/);
    expect(() => CSEQ.parse('1 INVITE BYE')).toThrow(/method is missing or is not a token/);
    expect(CSEQ.format({ seq: 7, method: 'MESSAGE' })).toBe('7 MESSAGE');
  });

  it('Max-Forwards 0-255, Expires below 2**32', () => {
    expect(MAX_FORWARDS.parse('0')).toBe(0);
    expect(() => MAX_FORWARDS.parse('256')).toThrow(/larger than 255/);
    expect(() => MAX_FORWARDS.parse('-1')).toThrow(/not a decimal number/);
    expect(EXPIRES.parse('4294967295')).toBe(4294967295);
    expect(() => EXPIRES.parse('4294967296')).toThrow(/larger than 4294967295/);
  });

  it('Call-ID: word ["@" word]', () => {
    expect(CALL_ID.parse('a84b4c76e66710@pc33.atlanta.com')).toBe('a84b4c76e66710@pc33.atlanta.com');
    expect(() => CALL_ID.parse('a b')).toThrow(/word/);
    expect(() => CALL_ID.parse('a@b@c')).toThrow(/word/);
  });

  it('Content-Type: type/subtype lower-cased, parameters kept', () => {
    expect(CONTENT_TYPE.parse('Application / SDP ; charset="utf-8"')).toEqual({
      type: 'application',
      subtype: 'sdp',
      params: new Map([['charset', '"utf-8"']]),
    });
    expect(() => CONTENT_TYPE.parse('text')).toThrow(/type\/subtype/);
  });

  it('Date: RFC 1123 in GMT only, an existing date with its weekday', () => {
    expect(DATE.parse('Sat, 13 Nov 2010 23:29:00 GMT').toISOString()).toBe('2010-11-13T23:29:00.000Z');
    expect(DATE.format(new Date(Date.UTC(2010, 10, 13, 23, 29)))).toBe('Sat, 13 Nov 2010 23:29:00 GMT');
    expect(() => DATE.parse('Sat, 13 Nov 2010 23:29:00 EST')).toThrow(/GMT only/);
    expect(() => DATE.parse('Sun, 13 Nov 2010 23:29:00 GMT')).toThrow(/weekday/);
    expect(() => DATE.parse('Tue, 31 Feb 2010 23:29:00 GMT')).toThrow(/does not exist/);
  });

  it('challenges and credentials: comma-separated auth-params, quoted values kept quoted', () => {
    const c = WWW_AUTHENTICATE.parse('Digest realm="a, b", qop="auth,auth-int" , nonce=abc');
    expect(c.scheme).toBe('Digest');
    expect([...c.params]).toEqual([
      ['realm', '"a, b"'],
      ['qop', '"auth,auth-int"'],
      ['nonce', 'abc'],
    ]);
    expect(WWW_AUTHENTICATE.format(c)).toBe('Digest realm="a, b", qop="auth,auth-int", nonce=abc');
    expect(() => AUTHORIZATION.parse('Basic dXNlcjpwYXNz')).toThrow(/expected name=value/);
    expect(() => AUTHORIZATION.parse('Digest')).toThrow(/auth scheme, white space and parameters/);
    expect(() => AUTHORIZATION.parse('Digest a=1, a=2')).toThrow(/'a' appears twice/);
    expect(() => AUTHORIZATION.parse('Digest a=1,')).toThrow(/expected name=value/);
  });
});
