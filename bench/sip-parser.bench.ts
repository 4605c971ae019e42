import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  CONTENT_TYPE,
  PROXY_AUTHENTICATE,
  parse,
  RECORD_ROUTE,
  type SipMessage,
  SipRequest,
  serialize,
  WWW_AUTHENTICATE,
} from '../plugins/stubs/sip-ws/message/index.js';
import { alternate, type BenchOptions, type Result, result } from './harness.js';

/**
 * The sip-ws stub's SIP parser against JsSIP's (a generated PEG grammar) on the same corpus, in
 * one run: µs per message to parse and serialise. JsSIP's "serialise" of a received message is
 * `toString()`, which returns the text it was given, so its side is parsing only.
 *
 * Two readings of ours: as a proxy-like path uses it (parse, which checks the headers every
 * message needs, then serialise), and with the headers JsSIP parses up front also read as typed
 * values before serialising, which is the like-for-like comparison.
 */

const crlf = (...lines: string[]): string => lines.join('\r\n');
const withBody = (head: string[], body = ''): string =>
  crlf(...head, `Content-Length: ${new TextEncoder().encode(body).length}`, '', body);

const SDP = crlf(
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS stream',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1',
  'a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C:25:16:11:9C:AF:E7:0F:73:79:36:4E:9C:1E:15:54:39:0C:06:8B:ED:96:86:00:39',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  '',
);

/** What a WebRTC endpoint sends and receives over a WebSocket to Kamailio. */
const CORPUS = [
  withBody(
    [
      'MESSAGE sip:bob@b.example SIP/2.0',
      'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;branch=z9hG4bK5487224',
      'Max-Forwards: 69',
      'To: <sip:bob@b.example>',
      'From: "Alice" <sip:alice@a.example>;tag=ng7ksl0cqv',
      'Call-ID: p3o5gi1hk8v9q2rbt7fa',
      'CSeq: 4713 MESSAGE',
      'Content-Type: text/plain',
      'Supported: outbound',
      'User-Agent: protofly sip-ws',
    ],
    'Hello Bob! This chat message crossed two domains on a WebSocket.',
  ),
  withBody(
    [
      'INVITE sip:bob@b.example SIP/2.0',
      'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;branch=z9hG4bK1853046',
      'Max-Forwards: 69',
      'Route: <sip:127.0.0.1:5066;transport=ws;lr>',
      'To: <sip:bob@b.example>',
      'From: "Alice" <sip:alice@a.example>;tag=a1b2c3d4e5',
      'Call-ID: 8u1cf2ln4q7mhs9r3t0v',
      'CSeq: 1 INVITE',
      'Contact: <sip:f7k3j2l9@3k9d2l1m0n8p.invalid;transport=ws;ob>',
      'Content-Type: application/sdp',
      'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
      'Supported: ice,replaces,outbound',
    ],
    SDP,
  ),
  withBody(
    [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;rport=51234;received=127.0.0.1;branch=z9hG4bK1853046',
      'Record-Route: <sip:127.0.0.1:5066;transport=ws;r2=on;lr>',
      'Record-Route: <sip:127.0.0.1:5060;r2=on;lr>',
      'To: <sip:bob@b.example>;tag=9fxced76sl',
      'From: "Alice" <sip:alice@a.example>;tag=a1b2c3d4e5',
      'Call-ID: 8u1cf2ln4q7mhs9r3t0v',
      'CSeq: 1 INVITE',
      'Contact: <sip:k2n9d3f1@x8s7d6f5.invalid;transport=ws;alias=127.0.0.1~51240~5>',
      'Content-Type: application/sdp',
      'Supported: outbound',
    ],
    SDP,
  ),
  withBody([
    'REGISTER sip:a.example SIP/2.0',
    'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;branch=z9hG4bK9387463',
    'Max-Forwards: 69',
    'To: <sip:alice@a.example>',
    'From: <sip:alice@a.example>;tag=o2v8sn1d4k',
    'Call-ID: bq5c4ru0ul3e8n6e9ekd',
    'CSeq: 2 REGISTER',
    'Authorization: Digest algorithm=MD5, username="alice", realm="a.example", nonce="ZfN3hWXzdlmrUQK0Xy0fXG5Vv0i3XLaN", uri="sip:a.example", response="a2f5d77d0a4e6b1e3c2f0e9d8c7b6a59", qop=auth, cnonce="fo8nu4kl0rgo", nc=00000001',
    'Contact: <sip:f7k3j2l9@3k9d2l1m0n8p.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:2e1b8f4c-5d3a-4c2e-9f1a-7b6d5c4e3f2a>";expires=600',
    'Expires: 600',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
    'Supported: path,gruu,outbound',
    'User-Agent: protofly sip-ws',
  ]),
  withBody([
    'SIP/2.0 401 Unauthorized',
    'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;rport=51234;received=127.0.0.1;branch=z9hG4bK3758204',
    'To: <sip:alice@a.example>;tag=b27e1a1d33761e85846fc98f5f3a7e58.a2b8',
    'From: <sip:alice@a.example>;tag=o2v8sn1d4k',
    'Call-ID: bq5c4ru0ul3e8n6e9ekd',
    'CSeq: 1 REGISTER',
    'WWW-Authenticate: Digest realm="a.example", nonce="ZfN3hWXzdlmrUQK0Xy0fXG5Vv0i3XLaN", qop="auth", algorithm=MD5',
    'Server: kamailio (5.6.3 (x86_64/linux))',
  ]),
  withBody([
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;rport=51234;received=127.0.0.1;branch=z9hG4bK9387463',
    'To: <sip:alice@a.example>;tag=b27e1a1d33761e85846fc98f5f3a7e58.c0f3',
    'From: <sip:alice@a.example>;tag=o2v8sn1d4k',
    'Call-ID: bq5c4ru0ul3e8n6e9ekd',
    'CSeq: 2 REGISTER',
    'Contact: <sip:f7k3j2l9@3k9d2l1m0n8p.invalid;transport=ws;alias=127.0.0.1~51234~5>;expires=600;+sip.instance="<urn:uuid:2e1b8f4c-5d3a-4c2e-9f1a-7b6d5c4e3f2a>";reg-id=1',
    'Server: kamailio (5.6.3 (x86_64/linux))',
  ]),
  withBody([
    'BYE sip:k2n9d3f1@x8s7d6f5.invalid;transport=ws;alias=127.0.0.1~51240~5 SIP/2.0',
    'Via: SIP/2.0/WSS 3k9d2l1m0n8p.invalid;branch=z9hG4bK6230195',
    'Max-Forwards: 69',
    'Route: <sip:127.0.0.1:5060;r2=on;lr>',
    'Route: <sip:127.0.0.1:5066;transport=ws;r2=on;lr>',
    'To: <sip:bob@b.example>;tag=9fxced76sl',
    'From: "Alice" <sip:alice@a.example>;tag=a1b2c3d4e5',
    'Call-ID: 8u1cf2ln4q7mhs9r3t0v',
    'CSeq: 2 BYE',
  ]),
];

/** Ours, as a proxy-like path uses it. */
function lazy(text: string): unknown {
  return serialize(parse(text));
}

/**
 * Ours, reading as typed values the headers JsSIP's parser parses up front (Via, From, To,
 * Call-ID, CSeq, Max-Forwards, Contact, Record-Route, Content-Type, WWW- and
 * Proxy-Authenticate, and the Request-URI), before serialising.
 */
function eager(text: string): unknown {
  const m: SipMessage = parse(text);
  const h = m.headers;
  const read: unknown[] = [m.vias, m.from, m.to, m.callId, m.cseq, m.contacts, h.all(RECORD_ROUTE)];
  read.push(h.first(CONTENT_TYPE), h.all(WWW_AUTHENTICATE), h.all(PROXY_AUTHENTICATE));
  if (m instanceof SipRequest) read.push(m.maxForwards, m.uri);
  return serialize(m);
}

/** µs per message over `passes` passes of the corpus. */
function timed(fn: (text: string) => unknown, passes: number): () => number {
  return () => {
    const t0 = performance.now();
    for (let p = 0; p < passes; p++) for (const text of CORPUS) fn(text);
    return ((performance.now() - t0) * 1000) / (passes * CORPUS.length);
  };
}

export default async function sipParserBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const require = createRequire(join(root, 'package.json'));
  const jssip = require('jssip/lib/Parser.js') as {
    parseMessage(data: string, ua: null): { toString(): string } | undefined;
  };
  const theirs = (text: string): unknown => {
    const m = jssip.parseMessage(text, null);
    if (!m) throw new Error(`JsSIP refused a corpus message:\n${text}`);
    return m.toString();
  };
  // Both must accept the whole corpus, or the comparison means nothing.
  for (const text of CORPUS) {
    theirs(text);
    eager(text);
  }
  const rounds = quick ? 5 : 15;
  const [ourPasses, theirPasses] = quick ? [300, 30] : [2000, 200];
  // JsSIP's grammar needs many runs before V8 optimises it; warm both up well past the harness's one round.
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    timed(lazy, ourPasses)();
    timed(eager, ourPasses)();
    timed(theirs, theirPasses)();
  }
  const [ours, base] = await alternate(rounds, timed(lazy, ourPasses), timed(theirs, theirPasses));
  const [oursEager, baseEager] = await alternate(rounds, timed(eager, ourPasses), timed(theirs, theirPasses));
  return [
    result('sip parser: parse+serialise vs JsSIP parse', 'µs/msg', ours, base),
    result("sip parser: parse+read JsSIP's headers+serialise vs JsSIP parse", 'µs/msg', oursEager, baseEager),
  ];
}
