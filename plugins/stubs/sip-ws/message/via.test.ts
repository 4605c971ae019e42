import { describe, expect, it } from 'vitest';
import { formatVia, parseVia } from './via.js';

describe('parseVia', () => {
  it('reads sent-protocol, sent-by and parameters, with white space where the grammar allows it', () => {
    const v = parseVia(
      'sip / 2.0 / wss  df7jal23ls0d.invalid : 443 ;branch=z9hG4bKasudf;rport;received=192.0.2.4',
    );
    expect(v).toMatchObject({
      protocol: 'SIP',
      version: '2.0',
      transport: 'WSS',
      host: 'df7jal23ls0d.invalid',
      port: 443,
    });
    expect([...v.params]).toEqual([
      ['branch', 'z9hG4bKasudf'],
      ['rport', null],
      ['received', '192.0.2.4'],
    ]);
  });

  it('reads IPv6 sent-by and an unbracketed IPv6 received', () => {
    const v = parseVia('SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bK1;received=2001:db8::9;rport=5061');
    expect([v.host, v.port, v.params.get('received'), v.params.get('rport')]).toEqual([
      '[2001:db8::9]',
      5061,
      '2001:db8::9',
      '5061',
    ]);
  });

  it.each([
    ['SIP/2.0 host', /expected '\/' after the protocol version/],
    ['SIP/2.0/UDP', /white space between the transport and sent-by/],
    ['SIP/2.0/UDP ', /sent-by host is missing/],
    ['SIP/2.0/UDP [::1', /sent-by host is missing/],
    ['SIP/2.0/UDP host:99999', /sent-by port .* larger than 65535/],
    ['SIP/2.0/UDP host;branch=z9hG4bK', /magic cookie 'z9hG4bK' alone/],
    ['SIP/2.0/UDP host;ttl=256', /ttl .* larger than 255/],
    ['SIP/2.0/UDP host;rport=x', /rport .* not a decimal number/],
    ['SIP/2.0/UDP host;;branch=z9hG4bK1', /empty or malformed parameter/],
  ])('refuses %j', (text, why) => {
    expect(() => parseVia(text)).toThrow(why);
  });
});

describe('formatVia', () => {
  it('writes the canonical form, which parses back to the same value', () => {
    const v = parseVia('SIP / 2.0 / UDP  host.example.com:5060 ; branch = z9hG4bK1 ; rport');
    const text = formatVia(v);
    expect(text).toBe('SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1;rport');
    expect(parseVia(text)).toEqual(v);
  });
});
