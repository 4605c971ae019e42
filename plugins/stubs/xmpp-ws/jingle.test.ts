import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentsXml, JINGLE, type Role, readContents } from './jingle.js';
import {
  type Candidate,
  type Media,
  readCandidate,
  readSdp,
  type Session,
  writeCandidate,
  writeSdp,
} from './sdp.js';
import { parseXml, writeXml } from './xml.js';

/** SDP ↔ Jingle (README, "Calls"): what the mapping promises survives SDP → Jingle XML → SDP. */

const token = (chars: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));

const candidate: fc.Arbitrary<Candidate> = fc.record(
  {
    foundation: token(ALNUM, 1, 32),
    component: fc.integer({ min: 1, max: 2 }),
    protocol: fc.constantFrom('udp', 'tcp'),
    priority: fc.nat(),
    ip,
    port: fc.nat(65535),
    type: fc.constantFrom('host', 'srflx', 'prflx', 'relay'),
    relAddr: ip,
    relPort: fc.nat(65535),
    generation: fc.nat(10),
  },
  { requiredKeys: ['foundation', 'component', 'protocol', 'priority', 'ip', 'port', 'type'] },
);

const media = (mid: string): fc.Arbitrary<Media> =>
  fc.record(
    {
      kind: fc.constantFrom('audio' as const, 'video' as const),
      mid: fc.constant(mid),
      direction: fc.constantFrom(
        'sendrecv' as const,
        'sendonly' as const,
        'recvonly' as const,
        'inactive' as const,
      ),
      payloads: fc.uniqueArray(
        fc.record(
          {
            id: fc.nat(127),
            name: token(`${ALNUM}-`, 1, 16),
            clockrate: fc.integer({ min: 1, max: 200_000 }),
            channels: fc.integer({ min: 2, max: 8 }),
            params: fc.array(fc.tuple(token(`${ALNUM}-`, 1, 16), token(`${ALNUM}-.,`, 0, 16)), {
              maxLength: 4,
            }),
          },
          { requiredKeys: ['id', 'name', 'clockrate', 'params'] },
        ),
        { selector: (p) => p.id, minLength: 1, maxLength: 6 },
      ),
      ufrag: token(`${ALNUM}+/`, 4, 32),
      pwd: token(`${ALNUM}+/`, 22, 40),
      fingerprint: fc.record({
        hash: fc.constantFrom('sha-256', 'sha-384'),
        value: fc
          .array(token('0123456789ABCDEF', 2, 2), { minLength: 32, maxLength: 32 })
          .map((b) => b.join(':')),
        setup: fc.constantFrom('actpass', 'active', 'passive'),
      }),
      rtcpMux: fc.boolean(),
      candidates: fc.array(candidate, { maxLength: 4 }),
    },
    { requiredKeys: ['kind', 'mid', 'direction', 'payloads', 'rtcpMux', 'candidates'] },
  );

const session: fc.Arbitrary<Session> = fc
  .uniqueArray(token(ALNUM, 1, 8), { minLength: 1, maxLength: 4 })
  .chain((mids) =>
    fc.record({
      bundle: fc.subarray(mids),
      media: fc.tuple(...mids.map(media)),
    }),
  );
const role = fc.constantFrom<Role>('initiator', 'responder');

/** SDP → Jingle, written and read as XML → SDP. */
function throughJingle(sdp: string, by: Role): Session | undefined {
  const read = readSdp(sdp)!;
  const xml = writeXml([
    'jingle',
    { xmlns: JINGLE.jingle, action: 'session-initiate', sid: 's' },
    ...contentsXml(read, by),
  ]);
  return readContents(parseXml(xml), by);
}

describe('SDP ↔ Jingle', () => {
  it('reads back the SDP it writes (property)', () => {
    fc.assert(
      fc.property(session, (s) => {
        expect(readSdp(writeSdp(s, '1'))).toEqual(s);
      }),
    );
  });

  it('SDP → Jingle → SDP keeps media, mids, directions, payload types and parameters, ICE, DTLS, rtcp-mux, candidates and BUNDLE (property)', () => {
    fc.assert(
      fc.property(session, role, (s, by) => {
        const sdp = writeSdp(s, '1');
        const back = throughJingle(sdp, by);
        expect(back).toEqual(s);
        expect(writeSdp(back!, '1')).toBe(sdp);
      }),
    );
  });

  it('reads and writes a candidate as WebRTC gives it (property)', () => {
    fc.assert(
      fc.property(candidate, (c) => {
        expect(readCandidate(writeCandidate(c))).toEqual(c);
      }),
    );
    expect(readCandidate('candidate:1 1 UDP 2122260223 192.0.2.1 54400 typ host')).toMatchObject({
      protocol: 'udp',
    });
    expect(readCandidate('candidate:1 1 udp x 192.0.2.1 54400 typ host')).toBeUndefined();
  });

  it('maps a browser offer: session-level ICE and DTLS to each section, a data channel and what Jingle does not carry left out', () => {
    const sdp = [
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=group:BUNDLE 0 1',
      'a=ice-ufrag:EsAw',
      'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
      'a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
      'c=IN IP4 0.0.0.0',
      'a=setup:actpass',
      'a=mid:0',
      'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 transport-cc',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:0 PCMU/8000',
      'a=ssrc:1 cname:x',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'a=mid:1',
      '',
    ].join('\r\n');
    const back = throughJingle(sdp, 'initiator');
    expect(back).toEqual({
      bundle: ['0', '1'],
      media: [
        {
          kind: 'audio',
          mid: '0',
          direction: 'sendrecv',
          payloads: [
            {
              id: 111,
              name: 'opus',
              clockrate: 48000,
              channels: 2,
              params: [
                ['minptime', '10'],
                ['useinbandfec', '1'],
              ],
            },
            { id: 0, name: 'PCMU', clockrate: 8000, params: [] },
          ],
          ufrag: 'EsAw',
          pwd: 'bP+XJMM09aR8AiX1jdukzR6Y',
          fingerprint: {
            hash: 'sha-256',
            value:
              'D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F',
            setup: 'actpass',
          },
          rtcpMux: true,
          candidates: [],
        },
      ],
    });
    expect(readSdp('v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n')).toBeUndefined();
  });

  it('reads senders from the side of whoever wrote the description', () => {
    const s: Session = {
      bundle: [],
      media: [
        { kind: 'audio', mid: 'a', direction: 'sendonly', payloads: [], rtcpMux: false, candidates: [] },
      ],
    };
    const [content] = contentsXml(s, 'responder');
    expect(content![1]).toMatchObject({ senders: 'responder' });
    expect(contentsXml(s, 'initiator')[0]![1]).toMatchObject({ senders: 'initiator' });
  });
});
