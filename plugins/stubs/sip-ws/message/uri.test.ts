import { describe, expect, it } from 'vitest';
import { formatUri, isSipUri, parseUri, type SipUri } from './uri.js';

const sip = (s: string): SipUri => {
  const uri = parseUri(s);
  expect(isSipUri(uri)).toBe(true);
  return uri as SipUri;
};

describe('parseUri', () => {
  it('takes a SIP URI apart: user, password, host, port, parameters, headers', () => {
    const uri = sip(
      'SIPS:alice:secret@Example.COM:5061;transport=wss;lr;ob?Subject=hi%20there&Priority=urgent',
    );
    expect(uri).toMatchObject({
      scheme: 'sips',
      user: 'alice',
      password: 'secret',
      host: 'Example.COM',
      port: 5061,
    });
    expect([...uri.params]).toEqual([
      ['transport', 'wss'],
      ['lr', null],
      ['ob', null],
    ]);
    expect([...uri.headers]).toEqual([
      ['Subject', 'hi there'],
      ['Priority', 'urgent'],
    ]);
  });

  it('reads IPv6 references and URIs without a user', () => {
    expect(sip('sip:[2001:db8::10]:5070;maddr=[::1]')).toMatchObject({
      host: '[2001:db8::10]',
      port: 5070,
      user: undefined,
    });
    expect(sip('sip:[2001:db8::10]').port).toBeUndefined();
    expect(sip('sip:proxy.example.com;lr').params.get('lr')).toBeNull();
  });

  it('unescapes components and lower-cases parameter names', () => {
    const uri = sip('sip:%61lice@h;TRANSPORT=W%53;n%61me=%E2%82%AC');
    expect(uri.user).toBe('alice');
    expect([...uri.params]).toEqual([
      ['transport', 'WS'],
      ['name', '€'],
    ]);
  });

  it('keeps escaped octets that are not UTF-8 as U+FFFD rather than failing', () => {
    expect(sip('sip:%FF%00@h').user).toBe('\uFFFD\x00');
  });

  it('reads tel URIs and keeps other schemes opaque', () => {
    expect(parseUri('tel:+1-201-555-0123;phone-context=example.com')).toEqual({
      scheme: 'tel',
      number: '+1-201-555-0123',
      params: new Map([['phone-context', 'example.com']]),
    });
    expect(parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6')).toEqual({
      scheme: 'urn',
      opaque: 'uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    });
  });

  it.each([
    ['alice@example.com', /has no scheme/],
    ['sip:', /malformed host/],
    ['sip:@example.com', /malformed user part/],
    ['sip:al ice@example.com', /malformed user part/],
    ['sip:alice@exa mple.com', /malformed host/],
    ['sip:alice@example.com:70000', /port .* is larger than 65535/],
    ['sip:alice@example.com:50x', /port .* is not a decimal number/],
    ['sip:alice@example.com;lr;LR', /parameter 'lr' twice/],
    ['sip:alice@example.com;=x', /malformed parameter/],
    ['sip:alice@example.com;a=', /malformed parameter/],
    ['sip:a%G1@example.com', /malformed user part/],
    ['sip:alice@example.com?novalue', /malformed header/],
    ['tel:call-me', /malformed number/],
    ['http:', /a character URIs do not allow/],
    ['x:a b', /a character URIs do not allow/],
  ])('refuses %s', (text, why) => {
    expect(() => parseUri(text)).toThrow(why);
  });
});

describe('formatUri', () => {
  it('escapes each component by its own character set, so parse(format(u)) is u', () => {
    const uri: SipUri = {
      scheme: 'sip',
      user: 'a b;c?@é',
      password: 'p:w',
      host: 'example.com',
      port: 5060,
      params: new Map([
        ['x y', 'v;1'],
        ['lr', null],
      ]),
      headers: new Map([['Subject', 'a&b=c']]),
    };
    const text = formatUri(uri);
    expect(text).toBe('sip:a%20b;c?%40%C3%A9:p%3Aw@example.com:5060;x%20y=v%3B1;lr?Subject=a%26b%3Dc');
    expect(parseUri(text)).toEqual(uri);
  });

  it('writes tel and opaque URIs back as they were', () => {
    for (const s of ['tel:+44-20-7946-0000;ext=12', 'isbn:2983792873'])
      expect(formatUri(parseUri(s))).toBe(s);
  });
});
