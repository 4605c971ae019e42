import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../../../../core/errors.js';
import { type SipRequest, SipResponse } from './message.js';
import { parse } from './parse.js';

const HEAD = [
  'Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'To: <sip:bob@b.example>',
  'From: <sip:alice@a.example>;tag=1',
  'Call-ID: c1',
  'CSeq: 1 MESSAGE',
];

function message(extra: string[], body = '', first = 'MESSAGE sip:bob@b.example SIP/2.0'): string {
  return [first, ...HEAD, ...extra, '', body].join('\r\n');
}

describe('parse', () => {
  it('counts Content-Length in UTF-8 bytes, for strings and for bytes', () => {
    const body = 'héllo €';
    const text = message([`Content-Length: ${new TextEncoder().encode(body).length}`], body);
    expect(parse(text).body).toBe(body);
    expect(parse(new TextEncoder().encode(text)).body).toBe(body);
    expect(parse(message([`Content-Length: ${body.length}`], body)).body).toBe('héllo ');
    expect(() => parse(message(['Content-Length: 2'], 'hé'))).toThrow(
      /Content-Length is 2, which ends inside a UTF-8/,
    );
    expect(() => parse(message(['Content-Length: 4'], 'hé'))).toThrow(
      /Content-Length is 4, but the body has 3 bytes/,
    );
  });

  it('takes the rest of the message as the body when there is no Content-Length', () => {
    expect(parse(message([], 'all of it\r\n')).body).toBe('all of it\r\n');
  });

  it('keeps a body that is not UTF-8 as bytes', () => {
    const head = new TextEncoder().encode(message(['Content-Length: 3']));
    const bytes = new Uint8Array([...head, 0xff, 0x00, 0xc3]);
    const m = parse(bytes);
    expect(m.body).toEqual(new Uint8Array([0xff, 0x00, 0xc3]));
  });

  it('accepts a response without Max-Forwards, a lower-case version, and a status from 100 to 699', () => {
    const text = ['sip/2.0 699 Anything goes', ...HEAD.filter((h) => !h.startsWith('Max')), '', ''].join(
      '\r\n',
    );
    const m = parse(text) as SipResponse;
    expect(m).toBeInstanceOf(SipResponse);
    expect([m.status, m.reason]).toEqual([699, 'Anything goes']);
  });

  it('reads only the headers every message needs; others wait until read', () => {
    const m = parse(message(['Contact: this is not an address', 'Expires: soon'])) as SipRequest;
    expect(m.headers.get('Contact')).toBe('this is not an address');
    expect(() => m.contacts).toThrow(/Contact header/);
  });

  it.each([
    ['no empty line', `MESSAGE sip:b@b SIP/2.0\r\n${HEAD.join('\r\n')}\r\n`, /no empty line/],
    ['a bare LF', message(['X-A: 1\nX-B: 2']), /CR or LF outside a CRLF/],
    ['a bare CR', message(['X-A: 1\rX-B: 2']), /CR or LF outside a CRLF/],
    ['a bare LF in the start line', message([], '', 'MESSAGE sip:b@b\n SIP/2.0'), /start line .* CR or LF/],
    [
      'a folded first header',
      message([], '', 'MESSAGE sip:bob@b.example SIP/2.0\r\n x'),
      /starts with white space/,
    ],
    ['a line without colon', message(['Foobar roobar']), /has no colon/],
    ['a header name with a space', message(['X Y: 1']), /header name "X Y" is not a token/],
    ['an empty header name', message([': 1']), /header name "" is not a token/],
    ['a status code of 700', `SIP/2.0 700 No\r\n${HEAD.join('\r\n')}\r\n\r\n`, /status code "700"/],
    [
      'a reason with a control character',
      `SIP/2.0 200 O\x01K\r\n${HEAD.join('\r\n')}\r\n\r\n`,
      /control character/,
    ],
    [
      'a method that is not a token',
      message([], '', 'MES(SAGE sip:bob@b.example SIP/2.0'),
      /method "MES\(SAGE"/,
    ],
    ['a missing Via', message([]).replace(/Via:[^\r]*\r\n/, ''), /no Via header/],
    ['a missing Call-ID', message([]).replace(/Call-ID:[^\r]*\r\n/, ''), /no Call-ID header/],
    ['a malformed Call-ID', message([]).replace('Call-ID: c1', 'Call-ID: c 1'), /Call-ID header "c 1"/],
    ['a head that is not UTF-8', new Uint8Array([0x4d, 0xff, 13, 10, 13, 10]), /header section is not UTF-8/],
    ['an empty message', '', /no empty line/],
  ])('refuses %s', (_, input, why) => {
    expect(() => parse(input)).toThrow(why);
  });

  it('refuses what is neither text nor bytes with a coded error, like everything else', () => {
    for (const input of [undefined, 42, { length: 3 }] as unknown as string[]) {
      try {
        parse(input);
        expect.unreachable();
      } catch (err) {
        expect(isProtoflyError(err, 'PF_ERR_SIP_PARSE')).toBe(true);
      }
    }
  });
});
