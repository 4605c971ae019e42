import { describe, expect, it } from 'vitest';
import { formatUri, parse, type SipRequest, type SipResponse } from '../message/index.js';
import { Dialog } from './dialog.js';

const msg = (...lines: string[]) => parse([...lines, 'Content-Length: 0', '', ''].join('\r\n'));

const invite = msg(
  'INVITE sip:bob@c.example SIP/2.0',
  'Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'To: <sip:bob@c.example>',
  'From: "Alice" <sip:alice@c.example>;tag=alice-tag',
  'Call-ID: call-1',
  'CSeq: 7 INVITE',
  'Contact: <sip:a1@a.invalid;transport=ws;ob>',
  'Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>',
) as SipRequest;

const ok = msg(
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1',
  'To: <sip:bob@c.example>;tag=bob-tag',
  'From: "Alice" <sip:alice@c.example>;tag=alice-tag',
  'Call-ID: call-1',
  'CSeq: 7 INVITE',
  'Contact: <sip:b1@b.invalid;transport=ws>',
  'Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>',
) as SipResponse;

describe('Dialog (RFC 3261 §12)', () => {
  it('as UAC: route set reversed, remote target from the 2xx Contact, CSeq going on from the INVITE’s', () => {
    const d = Dialog.asUac(invite, ok);
    expect(d.key).toBe('call-1\nalice-tag\nbob-tag');
    const bye = d.request('BYE', undefined);
    expect(formatUri(bye.uri)).toBe('sip:b1@b.invalid;transport=ws');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
    expect(bye.cseq).toEqual({ seq: 8, method: 'BYE' });
    expect(bye.to.params.get('tag')).toBe('bob-tag');
    expect(bye.from.params.get('tag')).toBe('alice-tag');
    // §13.2.2.4: the ACK takes its INVITE's sequence number.
    expect(d.request('ACK', undefined, 7).cseq).toEqual({ seq: 7, method: 'ACK' });
  });

  it('as UAS: route set in order, remote target from the INVITE, our tag local; requests checked in order (§12.2.2)', () => {
    const d = Dialog.asUas(invite, 'bob-tag');
    expect(d.key).toBe('call-1\nbob-tag\nalice-tag');
    const bye = d.request('BYE', undefined);
    expect(formatUri(bye.uri)).toBe('sip:a1@a.invalid;transport=ws;ob');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:p2.example;lr>', '<sip:p1.example;lr>']);
    expect(bye.cseq.seq).toBe(1);
    const later = (seq: number) =>
      msg(
        'BYE sip:b1@b.invalid SIP/2.0',
        'Via: SIP/2.0/WS a.invalid;branch=z9hG4bK2',
        'Max-Forwards: 70',
        'To: <sip:bob@c.example>;tag=bob-tag',
        'From: <sip:alice@c.example>;tag=alice-tag',
        'Call-ID: call-1',
        `CSeq: ${seq} BYE`,
      ) as SipRequest;
    expect(d.receive(later(7))).toBe(false);
    expect(d.receive(later(8))).toBe(true);
  });

  it('sends to a strict router with its URI as Request-URI and the remote target as last Route (§12.2.1.1)', () => {
    const strict = msg(
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1',
      'To: <sip:bob@c.example>;tag=bob-tag',
      'From: <sip:alice@c.example>;tag=alice-tag',
      'Call-ID: call-1',
      'CSeq: 7 INVITE',
      'Contact: <sip:b1@b.invalid>',
      'Record-Route: <sip:strict.example>',
    ) as SipResponse;
    const bye = Dialog.asUac(invite, strict).request('BYE', undefined);
    expect(formatUri(bye.uri)).toBe('sip:strict.example');
    expect(bye.headers.getAll('Route')).toEqual(['<sip:b1@b.invalid>']);
  });
});
