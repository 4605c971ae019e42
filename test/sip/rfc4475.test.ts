import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../../core/errors.js';
import {
  AUTHORIZATION,
  CONTENT_TYPE,
  DATE,
  EXPIRES,
  isSipUri,
  PROXY_REQUIRE,
  parse,
  RECORD_ROUTE,
  REQUIRE,
  ROUTE,
  type SipMessage,
  SipRequest,
  SipResponse,
  type SipUri,
  serialize,
} from '../../plugins/stubs/sip-ws/message/index.js';
import * as t from './fixtures/rfc4475.js';

/**
 * RFC 4475 torture tests. The RFC's text decides, not what JsSIP or SIP.js accept: valid
 * messages parse; the invalid ones are refused with PF_ERR_SIP_PARSE, by `parse` for what every
 * message needs, or when the offending header is read for the headers parsed lazily.
 */

function request(m: SipMessage): SipRequest {
  expect(m).toBeInstanceOf(SipRequest);
  return m as SipRequest;
}

function sip(uri: unknown): SipUri {
  expect(isSipUri(uri as SipUri)).toBe(true);
  return uri as SipUri;
}

/** The refusal `fn` throws; fails the test when it throws anything else or nothing. */
function refusal(fn: () => unknown): { message: string; detail: Readonly<Record<string, unknown>> } {
  try {
    fn();
  } catch (err) {
    if (isProtoflyError(err, 'PF_ERR_SIP_PARSE')) return err;
    throw err;
  }
  throw new Error('expected a PF_ERR_SIP_PARSE refusal');
}

/** Every message that parses must round-trip through serialize, and keep its typed views. */
function roundTrips(m: SipMessage): void {
  const again = parse(serialize(m));
  expect(again).toEqual(m);
  expect(again.vias).toEqual(m.vias);
  expect([again.from, again.to, again.callId, again.cseq]).toEqual([m.from, m.to, m.callId, m.cseq]);
}

describe('RFC 4475 §3.1.1 valid messages parse', () => {
  it('wsinv: folding, escaped quotes, compact and odd-case names, LWS everywhere, leading zeros', () => {
    const m = request(parse(t.wsinv));
    expect(m.method).toBe('INVITE');
    expect(sip(m.uri).params.get('unknownparam')).toBeNull();
    expect(m.to.params.get('tag')).toBe('1918181833n');
    expect(m.from.displayName).toBe('J Rosenberg \\"');
    expect(m.from.params.get('tag')).toBe('98asjd8');
    expect(m.maxForwards).toBe(68);
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' });
    expect(m.vias.map((v) => [v.transport, v.host, v.params.get('branch')])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(m.headers.get('Subject')).toBe('');
    expect(m.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(m.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    const route = m.headers.first(ROUTE)!;
    expect([...sip(route.uri).params]).toEqual([
      ['lr', null],
      ['unknownwith', 'value'],
      ['unknown-no-value', null],
    ]);
    expect(m.contacts).toHaveLength(1);
    expect(m.contacts[0]!.displayName).toBe('Quoted string ""');
    expect([...m.contacts[0]!.params]).toEqual([
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ]);
    expect(m.body).toHaveLength(150);
    roundTrips(m);
  });

  it('intmeth: token characters in the method, URI, branch, tag and names; NUL, BEL, DEL quoted; UTF-8', () => {
    const m = request(parse(t.intmeth));
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const uri = sip(m.uri);
    expect(uri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(uri.host).toBe('example.com');
    expect(m.to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7F');
    expect(sip(m.to.uri).user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(m.from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(m.from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(m.from.params.get('tag')).toBe("_token~1'+`*%!-.");
    expect(m.callId).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(m.via.params.get('branch')).toBe("z9hG4bK-.!%66*_+`'~");
    expect(m.headers.get("extensionHeader-!.%*+_`'~")).toBe('\uFEFF大停電');
    roundTrips(m);
  });

  it('esc01: escapes in the URIs are decoded (%6C%72 is lr)', () => {
    const m = request(parse(t.esc01));
    expect(sip(m.uri).user).toBe('sips:user@example.com');
    expect(sip(m.to.uri).user).toBe('user');
    expect(sip(m.from.uri).user).toBe('I have spaces');
    const contact = sip(m.contacts[0]!.uri);
    expect(contact.user).toBe('caller');
    expect([...contact.params]).toEqual([
      ['lr', null],
      ['name', 'value%41'],
    ]);
    expect(m.contentType).toMatchObject({ type: 'application', subtype: 'sdp' });
    roundTrips(m);
  });

  it('escnull: escaped NULs in user parts', () => {
    const m = request(parse(t.escnull));
    expect(sip(m.to.uri).user).toBe('null-\x00-null');
    expect(m.contacts.map((c) => sip(c.uri).user)).toEqual(['\x00', '\x00\x00']);
    expect(serialize(m)).toContain('Contact: <sip:%00%00@host5.example.com>');
    roundTrips(m);
  });

  it('esc02: % that is not an escape: the method, a quoted name, a branch, and a header named C%6Fntact', () => {
    const m = request(parse(t.esc02));
    expect(m.method).toBe('RE%47IST%45R');
    expect(m.to.displayName).toBe('%Z%45');
    expect(m.via.params.get('branch')).toBe('z9hG4bK209%fzsnel234');
    expect(m.contacts.map((c) => sip(c.uri).host)).toEqual(['host1.example.com', 'host3.example.com']);
    expect(m.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
    roundTrips(m);
  });

  it('lwsdisp: a token display name directly before <', () => {
    const m = request(parse(t.lwsdisp));
    expect(m.from.displayName).toBe('caller');
    expect(m.from.params.get('tag')).toBe('323');
    roundTrips(m);
  });

  it('longreq: long values and 34 Via fields under every spelling', () => {
    const m = request(parse(t.longreq));
    expect(m.vias).toHaveLength(34);
    expect(m.vias[33]!.params.get('branch')).toBe(`very${'long'.repeat(50)}branchvalue`);
    expect(sip(m.to.uri).port).toBe(6000);
    expect(m.from.params.get('tag')).toBe(`12${'982'.repeat(50)}424`);
    expect(m.headers.fields.filter((f) => f.name === 'Via')).toHaveLength(34);
    roundTrips(m);
  });

  it('dblreq: octets after the Content-Length body are discarded (RFC 3261 §18.3)', () => {
    const m = request(parse(t.dblreq));
    expect(m.method).toBe('REGISTER');
    expect(m.body).toBe('');
    expect(serialize(m)).not.toContain('INVITE');
    roundTrips(m);
  });

  it('semiuri: ; and an escaped @ in the user part; a folded Accept', () => {
    const m = request(parse(t.semiuri));
    expect(sip(m.uri).user).toBe('user;par=u@example.net');
    expect(sip(m.uri).params.size).toBe(0);
    expect(m.headers.get('Accept')).toBe(
      'application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag',
    );
    roundTrips(m);
  });

  it('transports: known and unknown transports', () => {
    const m = request(parse(t.transports));
    expect(m.vias.map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    roundTrips(m);
  });

  it('mpart01: a multipart body with a binary part, from a binary frame, framed by Content-Length', () => {
    const m = request(parse(t.mpart01));
    expect(m.body).toBeInstanceOf(Uint8Array);
    const body = m.body as Uint8Array;
    const start = body.length - t.MPART01_BINARY.length - '\r\n--7a9cbec02ceef655--\r\n'.length;
    expect(body.subarray(start, start + t.MPART01_BINARY.length)).toEqual(t.MPART01_BINARY);
    expect(m.contentType?.params.get('boundary')).toBe('7a9cbec02ceef655');
    expect(m.headers.first(DATE)).toEqual(new Date(Date.UTC(2005, 9, 15, 4, 44, 56)));
    expect(m.headers.get('y')).toMatch(/^r5mwreLuyDRYBi/);
    const out = serialize(m);
    expect(out).toBeInstanceOf(Uint8Array);
    roundTrips(m);
  });

  it('unreason: a UTF-8 reason phrase', () => {
    const m = parse(t.unreason) as SipResponse;
    expect(m).toBeInstanceOf(SipResponse);
    expect(m.status).toBe(200);
    expect(m.reason).toBe('= 2**3 * 5**2 но сто девяносто девять - простое');
    roundTrips(m);
  });

  it('noreason: an empty reason phrase after the required SP', () => {
    const m = parse(t.noreason) as SipResponse;
    expect([m.status, m.reason]).toEqual([100, '']);
    roundTrips(m);
  });
});

/** What refusing one invalid message looks like: at parse, or when a lazily parsed header is read. */
interface Refusal {
  when: 'parse' | 'read';
  message: RegExp;
  read?: (m: SipMessage) => unknown;
  status?: number;
}

const INVALID: Record<string, [string | Uint8Array, Refusal]> = {
  badinv01: [t.badinv01, { when: 'parse', message: /^PF_ERR_SIP_PARSE: Via header .*empty/ }],
  clerr: [t.clerr, { when: 'parse', message: /Content-Length is 9999, but the body has 154 bytes/ }],
  ncl: [t.ncl, { when: 'parse', message: /Content-Length header "-999": .*not a decimal number/ }],
  scalar02: [t.scalar02, { when: 'parse', message: /CSeq header .*larger than 2147483647/ }],
  scalarlg: [t.scalarlg, { when: 'parse', message: /CSeq header .*larger than 2147483647/ }],
  quotbal: [t.quotbal, { when: 'parse', message: /To header .*no closing quote/ }],
  ltgtruri: [
    t.ltgtruri,
    { when: 'parse', message: /Request-URI "<sip:user@example.com>" must not be enclosed in <>/ },
  ],
  lwsruri: [t.lwsruri, { when: 'parse', message: /Request-Line .* has white space inside its Request-URI/ }],
  lwsstart: [t.lwsstart, { when: 'parse', message: /separates its elements with more than one SP/ }],
  trws: [t.trws, { when: 'parse', message: /Request-Line .* ends with white space/ }],
  escruri: [t.escruri, { when: 'parse', message: /Request-URI .* carries URI headers/ }],
  baddate: [
    t.baddate,
    { when: 'read', read: (m) => m.headers.first(DATE), message: /Date header .*GMT only/ },
  ],
  regbadct: [
    t.regbadct,
    { when: 'read', read: (m) => m.contacts, message: /Contact header .*must be enclosed in <>/ },
  ],
  badaspec: [t.badaspec, { when: 'parse', message: /To header .*white space inside </ }],
  baddn: [
    t.baddn,
    { when: 'parse', message: /From header .*unquoted display name "Bell" is followed by ","/ },
  ],
  badvers: [t.badvers, { when: 'parse', message: /SIP version "SIP\/7.0" is not supported/, status: 505 }],
  mismatch01: [
    t.mismatch01,
    { when: 'parse', message: /CSeq method "INVITE" does not match the request method "OPTIONS"/ },
  ],
  mismatch02: [
    t.mismatch02,
    { when: 'parse', message: /CSeq method "INVITE" does not match the request method "NEWMETHOD"/ },
  ],
  bigcode: [t.bigcode, { when: 'parse', message: /status code "4294967301" is not three digits/ }],
  badbranch: [t.badbranch, { when: 'parse', message: /Via header .*magic cookie 'z9hG4bK' alone/ }],
  insuf: [t.insuf, { when: 'parse', message: /the message has no From header/ }],
  multi01: [t.multi01, { when: 'parse', message: /From appears 2 times; it may appear once/ }],
  mcl01: [t.mcl01, { when: 'parse', message: /Content-Length appears twice/ }],
  inv2543: [t.inv2543, { when: 'parse', message: /the message has no Max-Forwards header/ }],
};

describe('RFC 4475 invalid messages are refused with PF_ERR_SIP_PARSE naming what is wrong', () => {
  for (const [name, [message, expected]] of Object.entries(INVALID)) {
    it(`${name}: refused at ${expected.when}`, () => {
      let err: ReturnType<typeof refusal>;
      if (expected.when === 'parse') {
        err = refusal(() => parse(message));
      } else {
        // Parsing alone succeeds: the header at fault is only parsed when read (RFC 4475 lets
        // an element that does not use it ignore it).
        const m = parse(message);
        err = refusal(() => expected.read!(m));
      }
      expect(err.message).toMatch(expected.message);
      expect(err.detail.status).toBe(expected.status ?? 400);
    });
  }

  it('the header at fault is named in detail', () => {
    expect(refusal(() => parse(t.quotbal)).detail.header).toBe('To');
    expect(refusal(() => parse(t.clerr)).detail.header).toBe('Content-Length');
    expect(refusal(() => parse(t.lwsstart)).detail.part).toBe('start-line');
  });
});

describe('RFC 4475 §3.3 application-layer cases are well-formed messages', () => {
  it('unkscm, novelsc: other schemes in the Request-URI stay opaque', () => {
    expect(request(parse(t.unkscm)).uri).toEqual({
      scheme: 'nobodyknowsthisscheme',
      opaque: 'totallyopaquecontent',
    });
    expect(request(parse(t.novelsc)).uri).toEqual({ scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
  });

  it('unksm2: other schemes in To, From and Contact', () => {
    const m = request(parse(t.unksm2));
    expect(m.to.uri).toEqual({ scheme: 'isbn', opaque: '2983792873' });
    expect(m.from.uri).toEqual({ scheme: 'http', opaque: '//www.example.com' });
    expect(m.contacts[0]!.uri).toEqual({ scheme: 'name', opaque: 'John_Smith' });
    roundTrips(m);
  });

  it('bext01: Require and Proxy-Require lists', () => {
    const m = request(parse(t.bext01));
    expect(m.headers.all(REQUIRE)).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
    expect(m.headers.all(PROXY_REQUIRE)).toEqual(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
  });

  it('invut: an unknown Content-Type with its 40-byte body', () => {
    const m = request(parse(t.invut));
    expect(m.contentType).toMatchObject({ type: 'application', subtype: 'unknownformat' });
    expect(m.body).toBe('<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
  });

  it('regaut01: an unknown Authorization scheme', () => {
    const m = request(parse(t.regaut01));
    const auth = m.headers.first(AUTHORIZATION)!;
    expect(auth.scheme).toBe('NoOneKnowsThisScheme');
    expect([...auth.params]).toEqual([['opaque-data', 'here']]);
  });

  it('bcast: a broadcast Via sent-by is syntax, not the parser’s business', () => {
    const m = parse(t.bcast);
    expect(m.vias[1]!.host).toBe('255.255.255.255');
  });

  it('zeromf, cparam01, cparam02, regescrt, sdp01', () => {
    expect(request(parse(t.zeromf)).maxForwards).toBe(0);
    const c1 = request(parse(t.cparam01)).contacts[0]!;
    expect([sip(c1.uri).user, sip(c1.uri).params.size, c1.params.has('unknownparam')]).toEqual([
      '+19725552222',
      0,
      true,
    ]);
    const c2 = request(parse(t.cparam02)).contacts[0]!;
    expect([sip(c2.uri).params.has('unknownparam'), c2.params.size]).toEqual([true, 0]);
    const r = request(parse(t.regescrt)).contacts[0]!;
    expect([...sip(r.uri).headers]).toEqual([['Route', '<sip:sip.example.com>']]);
    expect(request(parse(t.sdp01)).headers.get('Accept')).toBe('text/nobodyKnowsThis');
  });

  it('inv2543 would be fine but for Max-Forwards: its other RFC 2543 headers parse', () => {
    const withMaxForwards = t.inv2543.replace('CSeq: 56 INVITE', 'CSeq: 56 INVITE\r\nMax-Forwards: 70');
    const m = request(parse(withMaxForwards));
    expect(m.via.params.size).toBe(0);
    expect(m.headers.first(RECORD_ROUTE)?.uri).toMatchObject({
      params: new Map([['maddr', 'ss1.example.com']]),
    });
    expect(m.to.params.get('user')).toBe('phone');
    expect(m.body).toMatch(/^v=0\r\n/);
  });

  it('scalar02: the overlarge Expires is refused when read', () => {
    const fixed = t.scalar02
      .replace('36893488147419103232', '36')
      .replace('Max-Forwards: 300', 'Max-Forwards: 30');
    const m = parse(fixed);
    expect(refusal(() => m.headers.first(EXPIRES)).message).toMatch(
      /Expires header .*larger than 4294967295/,
    );
    expect(m.contentType).toBeUndefined();
    expect(m.headers.first(CONTENT_TYPE)).toBeUndefined();
  });
});
