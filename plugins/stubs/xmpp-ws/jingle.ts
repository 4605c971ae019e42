import type { Candidate, Direction, Media, Payload, Session } from './sdp.js';
import { child, textOf, type Xml, type XmlElement } from './xml.js';

/**
 * Jingle's form of a session description (README, "Calls"): XEP-0166 contents, each an RTP
 * description (XEP-0167) and an ICE-UDP transport (XEP-0176) with a DTLS fingerprint (XEP-0320),
 * and the BUNDLE group (XEP-0338); both ways.
 */

export const JINGLE = {
  jingle: 'urn:xmpp:jingle:1',
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  dtls: 'urn:xmpp:jingle:apps:dtls:0',
  grouping: 'urn:xmpp:jingle:apps:grouping:0',
  jmi: 'urn:xmpp:jingle-message:0',
} as const;

/** Who wrote an SDP: its direction is its writer's, Jingle's `senders` the session's roles' (XEP-0166 §7.3). */
export type Role = 'initiator' | 'responder';

const other = (role: Role): Role => (role === 'initiator' ? 'responder' : 'initiator');

export function sendersOf(direction: Direction, role: Role): string {
  if (direction === 'sendrecv') return 'both';
  if (direction === 'inactive') return 'none';
  return direction === 'sendonly' ? role : other(role);
}

export function directionOf(senders: string | undefined, role: Role): Direction {
  if (senders === undefined || senders === 'both') return 'sendrecv';
  if (senders === 'none') return 'inactive';
  return senders === role ? 'sendonly' : 'recvonly';
}

const defined = (attrs: Record<string, string | number | undefined>) =>
  Object.fromEntries(
    Object.entries(attrs).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])),
  ) as Record<string, string>;

function candidateXml(c: Candidate, id: string): Xml {
  return [
    'candidate',
    defined({
      component: c.component,
      foundation: c.foundation,
      generation: c.generation,
      id,
      ip: c.ip,
      network: 0,
      port: c.port,
      priority: c.priority,
      protocol: c.protocol,
      type: c.type,
      'rel-addr': c.relAddr,
      'rel-port': c.relPort,
    }),
  ];
}

/** An ICE-UDP transport: credentials, fingerprint, and `candidates` (all of the section's, or those trickled). */
export function transportXml(m: Media, candidates: readonly Candidate[] = m.candidates): Xml {
  return [
    'transport',
    defined({ xmlns: JINGLE.ice, ufrag: m.ufrag, pwd: m.pwd }),
    ...(m.fingerprint
      ? [
          [
            'fingerprint',
            { xmlns: JINGLE.dtls, hash: m.fingerprint.hash, setup: m.fingerprint.setup },
            m.fingerprint.value,
          ] as Xml,
        ]
      : []),
    ...candidates.map((c, i) => candidateXml(c, `${m.mid}-${i}`)),
  ];
}

function payloadXml(p: Payload): Xml {
  return [
    'payload-type',
    defined({ id: p.id, name: p.name, clockrate: p.clockrate, channels: p.channels }),
    ...p.params.map(([name, value]): Xml => ['parameter', { name, value }]),
  ];
}

/** The `<content/>` elements and the BUNDLE group of `session`, written by `role`. */
export function contentsXml(session: Session, role: Role): Xml[] {
  const contents = session.media.map(
    (m): Xml => [
      'content',
      { creator: 'initiator', name: m.mid, senders: sendersOf(m.direction, role) },
      [
        'description',
        { xmlns: JINGLE.rtp, media: m.kind },
        ...m.payloads.map(payloadXml),
        ...(m.rtcpMux ? [['rtcp-mux', {}] as Xml] : []),
      ],
      transportXml(m),
    ],
  );
  const group: Xml[] =
    session.bundle.length > 0
      ? [
          [
            'group',
            { xmlns: JINGLE.grouping, semantics: 'BUNDLE' },
            ...session.bundle.map((name): Xml => ['content', { name }]),
          ],
        ]
      : [];
  return [...contents, ...group];
}

const elements = (el: XmlElement, name: string, ns = el.ns) =>
  el.children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === name && c.ns === ns);

/** A decimal integer attribute within [0, max]. */
function intAttr(el: XmlElement, name: string, max = 0xffffffff): number | undefined {
  const text = el.attrs.get(name);
  if (!text || text.length > 10) return undefined;
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) < 0x30 || text.charCodeAt(i) > 0x39) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** The candidates of a transport; a malformed one is left out. */
export function readCandidates(transport: XmlElement): Candidate[] {
  return elements(transport, 'candidate').flatMap((c): Candidate[] => {
    const [foundation, protocol, ip, type] = ['foundation', 'protocol', 'ip', 'type'].map((k) =>
      c.attrs.get(k),
    );
    const component = intAttr(c, 'component', 256);
    const priority = intAttr(c, 'priority');
    const port = intAttr(c, 'port', 65535);
    if (
      !foundation ||
      !protocol ||
      !ip ||
      !type ||
      component === undefined ||
      priority === undefined ||
      port === undefined
    )
      return [];
    const relAddr = c.attrs.get('rel-addr');
    const relPort = intAttr(c, 'rel-port', 65535);
    const generation = intAttr(c, 'generation');
    return [
      {
        foundation,
        component,
        protocol,
        priority,
        ip,
        port,
        type,
        ...(relAddr !== undefined ? { relAddr } : {}),
        ...(relPort !== undefined ? { relPort } : {}),
        ...(generation !== undefined ? { generation } : {}),
      },
    ];
  });
}

/** Reads the contents of a `<jingle/>` written by `role`; undefined when no RTP content with an ICE-UDP transport is there. */
export function readContents(jingle: XmlElement, role: Role): Session | undefined {
  const media = elements(jingle, 'content').flatMap((content): Media[] => {
    const name = content.attrs.get('name');
    const description = child(content, 'description', JINGLE.rtp);
    const transport = child(content, 'transport', JINGLE.ice);
    const kind = description?.attrs.get('media');
    if (!name || !description || !transport || (kind !== 'audio' && kind !== 'video')) return [];
    const payloads = elements(description, 'payload-type', JINGLE.rtp).flatMap((p): Payload[] => {
      const id = intAttr(p, 'id', 127);
      const clockrate = intAttr(p, 'clockrate');
      const channels = intAttr(p, 'channels', 255);
      const pt = p.attrs.get('name');
      if (id === undefined || clockrate === undefined || !pt) return [];
      const params = elements(p, 'parameter', JINGLE.rtp).flatMap((x): [string, string][] => {
        const k = x.attrs.get('name');
        return k ? [[k, x.attrs.get('value') ?? '']] : [];
      });
      return [
        {
          id,
          name: pt,
          clockrate,
          ...(channels !== undefined && channels !== 1 ? { channels } : {}),
          params,
        },
      ];
    });
    const fp = child(transport, 'fingerprint', JINGLE.dtls);
    const hash = fp?.attrs.get('hash');
    const value = fp && textOf(fp).trim();
    const ufrag = transport.attrs.get('ufrag');
    const pwd = transport.attrs.get('pwd');
    return [
      {
        kind,
        mid: name,
        direction: directionOf(content.attrs.get('senders'), role),
        payloads,
        ...(ufrag !== undefined ? { ufrag } : {}),
        ...(pwd !== undefined ? { pwd } : {}),
        ...(hash && value
          ? { fingerprint: { hash, value, setup: fp?.attrs.get('setup') ?? 'actpass' } }
          : {}),
        rtcpMux: child(description, 'rtcp-mux', JINGLE.rtp) !== undefined,
        candidates: readCandidates(transport),
      },
    ];
  });
  const group = child(jingle, 'group', JINGLE.grouping);
  const bundle =
    group?.attrs.get('semantics') === 'BUNDLE'
      ? elements(group, 'content', JINGLE.grouping).flatMap((c) => c.attrs.get('name') ?? [])
      : [];
  return media.length > 0 ? { bundle, media } : undefined;
}
