/**
 * The part of a WebRTC session description (RFC 8866, RFC 8829) that Jingle carries, read from
 * SDP and written back: per media section its kind, mid, direction, RTP payload types with their
 * fmtp parameters, ICE credentials and candidates, DTLS fingerprint and setup role, rtcp-mux; and
 * the BUNDLE group. What else an SDP holds (o= values, bandwidth, ssrc, extmap, rtcp-fb) Jingle
 * does not carry here, and is not kept (README, "Calls").
 */

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface Payload {
  readonly id: number;
  readonly name: string;
  readonly clockrate: number;
  /** Audio channels; absent is one. */
  readonly channels?: number;
  /** a=fmtp's `name=value` pairs, in order. */
  readonly params: readonly (readonly [string, string])[];
}

/** An ICE candidate (RFC 8839 §5.1). */
export interface Candidate {
  readonly foundation: string;
  readonly component: number;
  readonly protocol: string;
  readonly priority: number;
  readonly ip: string;
  readonly port: number;
  readonly type: string;
  readonly relAddr?: string;
  readonly relPort?: number;
  readonly generation?: number;
}

export interface Fingerprint {
  readonly hash: string;
  readonly value: string;
  /** a=setup (RFC 4145): actpass, active, passive. */
  readonly setup: string;
}

export interface Media {
  readonly kind: 'audio' | 'video';
  readonly mid: string;
  readonly direction: Direction;
  readonly payloads: readonly Payload[];
  readonly ufrag?: string;
  readonly pwd?: string;
  readonly fingerprint?: Fingerprint;
  readonly rtcpMux: boolean;
  readonly candidates: readonly Candidate[];
}

export interface Session {
  /** a=group:BUNDLE's mids; empty when none. */
  readonly bundle: readonly string[];
  readonly media: readonly Media[];
}

const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/** `text` after `prefix`, when it starts with it. */
const after = (text: string, prefix: string) =>
  text.startsWith(prefix) ? text.slice(prefix.length) : undefined;

/** A decimal integer within [0, max], or undefined. */
function int(text: string | undefined, max = 0xffffffff): number | undefined {
  if (!text || text.length > 10) return undefined;
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) < 0x30 || text.charCodeAt(i) > 0x39) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** Reads a candidate attribute's value (`candidate:...`, with or without the `a=`); undefined when malformed. */
export function readCandidate(text: string): Candidate | undefined {
  const value = after(text, 'a=') ?? text;
  const fields = (after(value, 'candidate:') ?? '').split(' ');
  const [foundation, component, protocol, priority, ip, port, typ, type, ...rest] = fields;
  const c = int(component, 256);
  const pr = int(priority);
  const p = int(port, 65535);
  if (!foundation || c === undefined || !protocol || pr === undefined || !ip || p === undefined)
    return undefined;
  if (typ !== 'typ' || !type) return undefined;
  let relAddr: string | undefined;
  let relPort: number | undefined;
  let generation: number | undefined;
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const [k, v] = [rest[i], rest[i + 1]];
    if (k === 'raddr') relAddr = v;
    else if (k === 'rport') relPort = int(v, 65535);
    else if (k === 'generation') generation = int(v);
  }
  return {
    foundation,
    component: c,
    protocol: protocol.toLowerCase(),
    priority: pr,
    ip,
    port: p,
    type,
    ...(relAddr !== undefined ? { relAddr } : {}),
    ...(relPort !== undefined ? { relPort } : {}),
    ...(generation !== undefined ? { generation } : {}),
  };
}

/** A candidate as the value of its attribute (`candidate:...`, RFC 8839 §5.1). */
export function writeCandidate(c: Candidate): string {
  return [
    `candidate:${c.foundation} ${c.component} ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}`,
    ...(c.relAddr !== undefined ? [`raddr ${c.relAddr}`] : []),
    ...(c.relPort !== undefined ? [`rport ${c.relPort}`] : []),
    ...(c.generation !== undefined ? [`generation ${c.generation}`] : []),
  ].join(' ');
}

interface MediaDraft {
  kind: 'audio' | 'video' | undefined;
  mid: string | undefined;
  direction: Direction;
  ids: number[];
  payloads: Map<number, { name: string; clockrate: number; channels?: number; params: [string, string][] }>;
  ufrag?: string;
  pwd?: string;
  hash?: string;
  value?: string;
  setup?: string;
  rtcpMux: boolean;
  candidates: Candidate[];
}

/**
 * Reads what Jingle carries of `sdp`. A media section other than audio or video (a data channel)
 * is left out, and so is a payload type without an a=rtpmap; ICE and DTLS attributes at session
 * level apply to every section without their own. Undefined when no audio or video section is left.
 */
export function readSdp(sdp: string): Session | undefined {
  const session: Partial<MediaDraft> = {};
  const sections: MediaDraft[] = [];
  let bundle: string[] = [];
  let current: Partial<MediaDraft> = session;
  for (const raw of sdp.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const m = after(line, 'm=');
    if (m !== undefined) {
      const [kind, , , ...fmts] = m.split(' ');
      const draft: MediaDraft = {
        kind: kind === 'audio' || kind === 'video' ? kind : undefined,
        mid: undefined,
        direction: 'sendrecv',
        ids: fmts.flatMap((f) => int(f, 127) ?? []),
        payloads: new Map(),
        rtcpMux: false,
        candidates: [],
      };
      sections.push(draft);
      current = draft;
      continue;
    }
    const a = after(line, 'a=');
    if (a === undefined) continue;
    const colon = a.indexOf(':');
    const [name, value] = colon < 0 ? [a, ''] : [a.slice(0, colon), a.slice(colon + 1)];
    if (DIRECTIONS.includes(name)) current.direction = name as Direction;
    else if (name === 'group' && current === session) {
      const [semantics, ...mids] = value.split(' ');
      if (semantics === 'BUNDLE') bundle = mids.filter(Boolean);
    } else if (name === 'mid') current.mid = value;
    else if (name === 'ice-ufrag') current.ufrag = value;
    else if (name === 'ice-pwd') current.pwd = value;
    else if (name === 'setup') current.setup = value;
    else if (name === 'rtcp-mux') current.rtcpMux = true;
    else if (name === 'fingerprint') {
      const [hash, fp] = value.split(' ');
      if (hash && fp) [current.hash, current.value] = [hash, fp];
    } else if (name === 'candidate') {
      const c = readCandidate(a);
      if (c) current.candidates?.push(c);
    } else if ((name === 'rtpmap' || name === 'fmtp') && current.payloads) {
      const space = value.indexOf(' ');
      const id = int(value.slice(0, space), 127);
      if (space < 0 || id === undefined) continue;
      const rest = value.slice(space + 1);
      if (name === 'rtpmap') {
        const [pt, rate, channels] = rest.split('/');
        const clockrate = int(rate);
        if (!pt || clockrate === undefined) continue;
        const ch = int(channels, 255);
        current.payloads.set(id, {
          name: pt,
          clockrate,
          ...(ch !== undefined && ch !== 1 ? { channels: ch } : {}),
          params: current.payloads.get(id)?.params ?? [],
        });
      } else {
        const params = rest.split(';').flatMap((p): [string, string][] => {
          const eq = p.indexOf('=');
          const k = (eq < 0 ? p : p.slice(0, eq)).trim();
          return k ? [[k, eq < 0 ? '' : p.slice(eq + 1).trim()]] : [];
        });
        const known = current.payloads.get(id);
        if (known) known.params = params;
        else current.payloads.set(id, { name: '', clockrate: -1, params });
      }
    }
  }
  const media = sections.flatMap((s, i): Media[] => {
    if (!s.kind) return [];
    const ufrag = s.ufrag ?? session.ufrag;
    const pwd = s.pwd ?? session.pwd;
    const hash = s.hash ?? session.hash;
    const value = s.value ?? session.value;
    const setup = s.setup ?? session.setup;
    return [
      {
        kind: s.kind,
        mid: s.mid ?? String(i),
        direction: s.direction,
        payloads: s.ids.flatMap((id) => {
          const p = s.payloads.get(id);
          return p && p.clockrate >= 0 ? [{ id, ...p }] : [];
        }),
        ...(ufrag !== undefined ? { ufrag } : {}),
        ...(pwd !== undefined ? { pwd } : {}),
        ...(hash && value ? { fingerprint: { hash, value, setup: setup ?? 'actpass' } } : {}),
        rtcpMux: s.rtcpMux,
        candidates: s.candidates,
      },
    ];
  });
  return media.length > 0 ? { bundle, media } : undefined;
}

/** Writes `session` as SDP (RFC 8866), CRLF-ended lines; DTLS-SRTP (UDP/TLS/RTP/SAVPF) when it has a fingerprint. */
export function writeSdp(session: Session, origin: string): string {
  const lines = ['v=0', `o=- ${origin} 2 IN IP4 0.0.0.0`, 's=-', 't=0 0'];
  if (session.bundle.length > 0) lines.push(`a=group:BUNDLE ${session.bundle.join(' ')}`);
  for (const m of session.media) {
    const proto = m.fingerprint ? 'UDP/TLS/RTP/SAVPF' : 'RTP/AVP';
    lines.push(`m=${m.kind} 9 ${proto} ${m.payloads.map((p) => p.id).join(' ')}`, 'c=IN IP4 0.0.0.0');
    lines.push(`a=mid:${m.mid}`, `a=${m.direction}`);
    if (m.ufrag !== undefined) lines.push(`a=ice-ufrag:${m.ufrag}`);
    if (m.pwd !== undefined) lines.push(`a=ice-pwd:${m.pwd}`);
    if (m.fingerprint)
      lines.push(
        `a=fingerprint:${m.fingerprint.hash} ${m.fingerprint.value}`,
        `a=setup:${m.fingerprint.setup}`,
      );
    if (m.rtcpMux) lines.push('a=rtcp-mux');
    for (const p of m.payloads) {
      lines.push(`a=rtpmap:${p.id} ${p.name}/${p.clockrate}${p.channels ? `/${p.channels}` : ''}`);
      if (p.params.length > 0)
        lines.push(`a=fmtp:${p.id} ${p.params.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';')}`);
    }
    for (const c of m.candidates) lines.push(`a=${writeCandidate(c)}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}
