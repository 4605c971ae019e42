import { join } from 'node:path';
import { describe, it, vi } from 'vitest';
import { type ConformanceServer, stubConformance } from '../../entry/stub-testing.js';
import activate from '../../plugins/stubs/sip-ws/index.js';
import { parse, type SipRequest, serialize } from '../../plugins/stubs/sip-ws/message/index.js';
import { createResponse } from '../../plugins/stubs/sip-ws/user-agent-core/responses.js';
import { type Kamailio, startKamailio } from '../../server/kamailio.js';
import { stubFolder } from '../support/packages.js';
import { FAST, SIP_DOMAIN } from '../support/sip-world.js';

/** sip-ws against a real Kamailio serving c.example, whose users carol and dave register with passwords. */

const { manifest, bundle } = await stubFolder(join(import.meta.dirname, '../../plugins/stubs/sip-ws'));
const PASSWORDS: Record<string, string> = { carol: 'carol-pw', dave: 'dave-pw' };
const userOf = (address: string) => address.split('/')[3]!;

const crlf = (...lines: string[]) => [...lines, ''].join('\r\n');
const sipRequest = (method: string, branch: string, extra: string[] = [], body = '') =>
  crlf(
    `${method} sip:carol@x.invalid;transport=ws SIP/2.0`,
    `Via: SIP/2.0/WS 10.0.0.1:5066;branch=z9hG4bK${branch}`,
    'Max-Forwards: 70',
    'To: <sip:carol@c.example>',
    'From: <sip:dave@c.example>;tag=d1',
    `Call-ID: ${branch}@c.example`,
    `CSeq: 1 ${method}`,
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
  ) + body;

/** What a SIP server sends a registered user agent: requests for it, and a response. */
const SAMPLES = [
  sipRequest('MESSAGE', 'm', ['Content-Type: text/plain'], 'hello'),
  sipRequest(
    'INVITE',
    'i',
    ['Contact: <sip:dave@h.invalid;transport=ws>', 'Content-Type: application/sdp'],
    'v=0\r\nm=audio 9 RTP/AVP 0\r\n',
  ),
  sipRequest('BYE', 'b'),
  sipRequest('OPTIONS', 'o'),
  crlf(
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/WS x.invalid;branch=z9hG4bKr',
    'To: <sip:dave@c.example>;tag=2',
    'From: <sip:carol@c.example>;tag=1',
    'Call-ID: r',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
  ),
  '\r\n',
];

interface Sip extends ConformanceServer {
  readonly kamailio: Kamailio;
}

stubConformance<Sip>({
  name: 'sip-ws',
  activate,
  manifest,
  bundle,
  server: async () => {
    const kamailio = await startKamailio({ domain: SIP_DOMAIN, users: PASSWORDS });
    return { kamailio, restart: () => kamailio.restart(), close: () => kamailio.stop() };
  },
  users: ['user://c.example/carol', 'user://c.example/dave'],
  context: ({ kamailio }, address) => ({
    domain: SIP_DOMAIN,
    config: { url: kamailio.wsUrl, password: PASSWORDS[userOf(address)], ...FAST },
  }),
  refused: ({ kamailio }) => ({
    domain: SIP_DOMAIN,
    config: { url: kamailio.wsUrl, password: 'wrong', ...FAST },
  }),
  hostile: {
    protocol: 'sip',
    // A registrar that takes any REGISTER.
    reply: (frame) => {
      if (!frame.startsWith('REGISTER')) return [];
      const req = parse(frame) as SipRequest;
      const ok = createResponse(req, 200, { toTag: 'reg' });
      ok.headers.append('Contact', `${req.headers.get('Contact')}`);
      return [serialize(ok) as string];
    },
    samples: SAMPLES,
    context: (url) => ({ domain: SIP_DOMAIN, config: { url, password: 'pw', keepAliveMs: 0, ...FAST } }),
  },
  offers: { calls: true, snapshot: false },
  runner: { describe, it, timers: vi },
});
