import { describe, expect, it } from 'vitest';
import { CONTACT, CSEQ, FROM, MAX_FORWARDS, TO, VIA } from './codecs.js';
import { Headers } from './headers.js';
import { SipRequest, SipResponse } from './message.js';
import { parseNameAddr } from './name-addr.js';
import { parse } from './parse.js';
import { serialize } from './serialize.js';
import { parseUri } from './uri.js';
import { parseVia } from './via.js';

function built(body: string | Uint8Array = 'hi €'): SipRequest {
  const h = new Headers();
  h.put(VIA, [parseVia('SIP/2.0/WSS a.invalid;branch=z9hG4bK1')]);
  h.put(MAX_FORWARDS, [70]);
  h.put(TO, [parseNameAddr('<sip:bob@b.example>')]);
  h.put(FROM, [parseNameAddr('"Alice" <sip:alice@a.example>;tag=1')]);
  h.append('i', 'c1@a.invalid');
  h.put(CSEQ, [{ seq: 1, method: 'MESSAGE' }]);
  h.put(CONTACT, [parseNameAddr('<sip:alice@a.invalid;transport=ws>;+sip.instance="<urn:uuid:1>"')]);
  h.append('Content-Type', 'text/plain');
  return new SipRequest('MESSAGE', parseUri('sip:bob@b.example'), h, body);
}

describe('serialize', () => {
  it('writes a built message canonically, Content-Length last and in bytes', () => {
    expect(serialize(built())).toBe(
      [
        'MESSAGE sip:bob@b.example SIP/2.0',
        'Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK1',
        'Max-Forwards: 70',
        'To: <sip:bob@b.example>',
        'From: "Alice" <sip:alice@a.example>;tag=1',
        'Call-ID: c1@a.invalid',
        'CSeq: 1 MESSAGE',
        'Contact: <sip:alice@a.invalid;transport=ws>;+sip.instance="<urn:uuid:1>"',
        'Content-Type: text/plain',
        'Content-Length: 6',
        '',
        'hi €',
      ].join('\r\n'),
    );
  });

  it('round-trips: what it writes parses back to an equal message', () => {
    const m = built();
    const again = parse(serialize(m));
    expect(again).toEqual(m);
    expect([again.from, again.contacts, again.cseq]).toEqual([m.from, m.contacts, m.cseq]);
  });

  it('writes bytes when the body is bytes (a binary WebSocket frame)', () => {
    const out = serialize(built(new Uint8Array([0, 255, 1])));
    expect(out).toBeInstanceOf(Uint8Array);
    const bytes = out as Uint8Array;
    expect([...bytes.subarray(-3)]).toEqual([0, 255, 1]);
    expect(new TextDecoder().decode(bytes.subarray(0, -3))).toMatch(/\r\nContent-Length: 3\r\n\r\n$/);
    expect(parse(bytes).body).toEqual(new Uint8Array([0, 255, 1]));
  });

  it.each([
    [
      'a method that is not a token',
      () => new SipRequest('BAD METHOD', parseUri('sip:b@b')),
      /method "BAD METHOD"/,
    ],
    [
      'a URI with white space',
      () => new SipRequest('MESSAGE', { scheme: 'x', opaque: 'a b' }),
      /white space/,
    ],
    ['a status out of range', () => new SipResponse(99, 'Low'), /status 99/],
    ['a reason with CR', () => new SipResponse(200, 'OK\r\nVia: evil'), /control character/],
  ])('refuses %s with a coded error', (_, make, why) => {
    expect(() => serialize(make())).toThrow(why);
  });
});
