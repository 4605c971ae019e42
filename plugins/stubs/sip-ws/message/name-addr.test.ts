import { describe, expect, it } from 'vitest';
import { formatNameAddr, parseNameAddr } from './name-addr.js';
import { quote } from './quoted-string.js';

describe('parseNameAddr', () => {
  it('reads a quoted display name with escapes, the URI and header parameters', () => {
    const a = parseNameAddr(
      '"Alice \\"A\\" \\\\ B" <sip:alice@a.example;transport=ws> ;tag=88sja8x ; +sip.instance="<urn:x>"',
    );
    expect(a.displayName).toBe('Alice "A" \\ B');
    expect(a.uri).toMatchObject({ user: 'alice', params: new Map([['transport', 'ws']]) });
    expect([...a.params]).toEqual([
      ['tag', '88sja8x'],
      ['+sip.instance', '"<urn:x>"'],
    ]);
  });

  it('reads token display names, collapsing their white space', () => {
    expect(parseNameAddr('A.  G.\tBell <sip:bell@example.com>').displayName).toBe('A. G. Bell');
    expect(parseNameAddr('<sip:bell@example.com>').displayName).toBeUndefined();
    expect(parseNameAddr('"" <sip:bell@example.com>').displayName).toBe('');
  });

  it('reads the addr-spec form: parameters after the URI belong to the header', () => {
    expect(parseNameAddr('<sip:bob@b.example>;lr').params.get('lr')).toBeNull();
    const a = parseNameAddr('sip:bob@b.example;tag=1 ;expires=60');
    expect(a.uri).toMatchObject({ user: 'bob', params: new Map() });
    expect([...a.params]).toEqual([
      ['tag', '1'],
      ['expires', '60'],
    ]);
  });

  it.each([
    ['', /empty/],
    ['"Bob <sip:bob@b.example>', /no closing quote/],
    ['"Bob" sip:bob@b.example', /not followed by <URI>/],
    ['Bob <sip:bob@b.example', /no matching '>'/],
    ['Bob, Jr. <sip:bob@b.example>', /unquoted display name "Bob" is followed by ","/],
    ['< sip:bob@b.example>', /white space inside/],
    ['sip:bob@b.example?Subject=x', /must be enclosed in <>/],
    ['<sip:bob@b.example>;tag=1;TAG=2', /parameter 'tag' appears twice/],
    ['<sip:bob@b.example>;;tag=1', /empty or malformed parameter/],
    ['<sip:bob@b.example> tag=1', /expected ';'/],
    ['"a\rb" <sip:bob@b.example>', /control character/],
  ])('refuses %j', (text, why) => {
    expect(() => parseNameAddr(text)).toThrow(why);
  });

  it('refuses the addr-spec form where only name-addr is allowed (Route)', () => {
    expect(() => parseNameAddr('sip:proxy.example.com;lr', true)).toThrow(/must be enclosed in <>/);
  });
});

describe('formatNameAddr', () => {
  it('always quotes the display name and brackets the URI; parse(format(a)) is a', () => {
    const a = parseNameAddr('token1~` token2 <sip:x@y>;tag=t');
    expect(formatNameAddr(a)).toBe('"token1~` token2" <sip:x@y>;tag=t');
    const tricky = { ...a, displayName: 'say "hi"\\\x00\x7f\tnow' };
    expect(parseNameAddr(formatNameAddr(tricky))).toEqual(tricky);
  });

  it('refuses a display name with CR or LF, and parameter values that are not tokens', () => {
    expect(() => quote('a\nb')).toThrow(/CR or LF/);
    const a = parseNameAddr('<sip:x@y>');
    expect(() => formatNameAddr({ ...a, params: new Map([['tag', 'a b']]) })).toThrow(
      /neither a token nor a quoted string/,
    );
  });
});
