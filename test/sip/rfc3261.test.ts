import { describe, expect, it } from 'vitest';
import {
  AUTHORIZATION,
  DATE,
  EXPIRES,
  isSipUri,
  parse,
  ROUTE,
  type SipMessage,
  SipRequest,
  type SipResponse,
  type SipUri,
  SUPPORTED,
  serialize,
  unquote,
  WWW_AUTHENTICATE,
} from '../../plugins/stubs/sip-ws/message/index.js';
import * as x from './fixtures/rfc3261.js';

const sip = (uri: unknown): SipUri => {
  expect(isSipUri(uri as SipUri)).toBe(true);
  return uri as SipUri;
};

describe('RFC 3261 examples', () => {
  for (const [name, text] of Object.entries(x.ALL)) {
    it(`${name} parses, serialises canonically and round-trips`, () => {
      const m: SipMessage = parse(text);
      const out = serialize(m) as string;
      expect(typeof out).toBe('string');
      expect(out.endsWith(`\r\n\r\n${m.body}`)).toBe(true);
      expect(out).toMatch(/\r\nContent-Length: \d+\r\n\r\n/);
      expect(out.split('\r\n\r\n')[0]).not.toMatch(/\n[ \t]/);
      const again = parse(out);
      expect(again).toEqual(m);
      expect(again.vias).toEqual(m.vias);
      expect(again.contacts).toEqual(m.contacts);
      expect(serialize(again)).toBe(out);
    });
  }

  it('§24.1 REGISTER and its 200 OK', () => {
    const reg = parse(x.register) as SipRequest;
    expect(reg).toBeInstanceOf(SipRequest);
    expect(sip(reg.uri).host).toBe('registrar.biloxi.com');
    expect(reg.via).toMatchObject({
      protocol: 'SIP',
      version: '2.0',
      transport: 'UDP',
      host: 'bobspc.biloxi.com',
      port: 5060,
    });
    expect(reg.to.displayName).toBe('Bob');
    expect(reg.headers.first(EXPIRES)).toBe(7200);
    const ok = parse(x.registerOk) as SipResponse;
    expect([ok.status, ok.reason]).toEqual([200, 'OK']);
    expect([...ok.via.params]).toEqual([
      ['branch', 'z9hG4bKnashds7'],
      ['received', '192.0.2.4'],
    ]);
    expect(ok.headers.get('Via')).toBe(
      'SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7 ;received=192.0.2.4',
    );
  });

  it('§24.2 session: INVITE with SDP, Vias added by proxies, ACK and BYE', () => {
    const invite = parse(x.invite) as SipRequest;
    expect(invite.contentType).toMatchObject({ type: 'application', subtype: 'sdp' });
    expect(invite.body).toMatch(/^v=0\r\no=alice/);
    expect((parse(x.proxiedInvite) as SipRequest).maxForwards).toBe(69);
    const ok = parse(x.inviteOk);
    expect(ok.vias.map((v) => v.params.get('received'))).toEqual(['192.0.2.3', '192.0.2.2', '192.0.2.1']);
    expect(ok.via.host).toBe('server10.biloxi.com');
    expect((parse(x.ack) as SipRequest).cseq).toEqual({ seq: 314159, method: 'ACK' });
    expect((parse(x.bye) as SipRequest).from.params.get('tag')).toBe('a6c85cf');
  });

  it('WWW-Authenticate and Authorization: commas inside a value, one challenge per field', () => {
    const m = parse(x.unauthorized);
    const [first, second] = m.headers.all(WWW_AUTHENTICATE);
    expect(m.headers.all(WWW_AUTHENTICATE)).toHaveLength(2);
    expect(first!.scheme).toBe('Digest');
    expect(unquote(first!.params.get('realm')!)).toBe('atlanta.com');
    expect(unquote(first!.params.get('domain')!)).toBe('sip:boxesbybob.com');
    expect(first!.params.get('opaque')).toBe('""');
    expect(first!.params.get('stale')).toBe('FALSE');
    expect(second!.params.get('algorithm')).toBe('SHA-256');
    expect(m.headers.first(DATE)?.toISOString()).toBe('2010-11-13T23:29:00.000Z');
    const auth = (parse(x.authorizedRegister) as SipRequest).headers.first(AUTHORIZATION)!;
    expect([...auth.params.keys()]).toEqual(['username', 'realm', 'nonce', 'response']);
    expect(unquote(auth.params.get('response')!)).toBe('7587245234b3434cc3412213e5f113a5432');
  });

  it('§7.3.1: folded Subject, Route over two fields, Contact list with another scheme', () => {
    const m = parse(x.headerExamples);
    expect(m.headers.get('Subject')).toBe("I know you're there, pick up the phone and talk to me!");
    expect(m.headers.all(ROUTE).map((r) => sip(r.uri).user)).toEqual(['alice', 'bob', 'carol']);
    expect(m.contacts).toHaveLength(2);
    expect(m.contacts[0]).toMatchObject({ displayName: 'Mr. Watson' });
    expect([...m.contacts[0]!.params]).toEqual([
      ['q', '0.7'],
      ['expires', '3600'],
    ]);
    expect(m.contacts[1]!.uri).toEqual({ scheme: 'mailto', opaque: 'watson@bell-telephone.com' });
    expect(m.contentType?.params.get('charset')).toBe('UTF-8');
    expect(m.body).toBe('Watson, come');
  });

  it('RFC 7118: WSS Via with an .invalid host, transport=ws, Outbound parameters, no Content-Length', () => {
    const m = parse(x.wsRegister) as SipRequest;
    expect(m.via).toMatchObject({ transport: 'WSS', host: 'df7jal23ls0d.invalid' });
    const contact = m.contacts[0]!;
    expect(sip(contact.uri).params.get('transport')).toBe('ws');
    expect(contact.params.get('reg-id')).toBe('1');
    expect(unquote(contact.params.get('+sip.instance')!)).toBe('<urn:uuid:f81-7dec-14a06cf1>');
    expect(m.headers.all(SUPPORTED)).toEqual(['path', 'outbound', 'gruu']);
    expect(m.body).toBe('');
    expect(serialize(m)).toMatch(/\r\nContent-Length: 0\r\n\r\n$/);
  });
});
