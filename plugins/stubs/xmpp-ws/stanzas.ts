import { addressOf, type Jid, readJid } from './jid.js';
import { JINGLE } from './jingle.js';
import { child, textOf, type Xml, type XmlElement } from './xml.js';

/**
 * The XMPP the stub speaks, as trees to write and frames read: RFC 7395 framing, RFC 6120 SASL
 * and binding, RFC 6121 messages, XEP-0184 receipts, XEP-0198 stream management, XEP-0199 pings. Reading turns an element
 * into the stub's own {@link Frame}, naming what the stub does with it, or undefined.
 */

export const NS = {
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  streams: 'http://etherx.jabber.org/streams',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  client: 'jabber:client',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  receipts: 'urn:xmpp:receipts',
  ping: 'urn:xmpp:ping',
  sm: 'urn:xmpp:sm:3',
} as const;

/** `<open/>` to `domain` (RFC 7395 §3.4), at the start and after SASL success. */
export const open = (domain: string): Xml => ['open', { xmlns: NS.framing, to: domain, version: '1.0' }];
/** `<close/>` (RFC 7395 §3.6). */
export const close = (): Xml => ['close', { xmlns: NS.framing }];
export const auth = (mechanism: string, first: string): Xml => ['auth', { xmlns: NS.sasl, mechanism }, first];
export const saslResponse = (data: string): Xml => ['response', { xmlns: NS.sasl }, data];
export const bindRequest = (id: string, resource: string): Xml => [
  'iq',
  { xmlns: NS.client, type: 'set', id },
  ['bind', { xmlns: NS.bind }, ['resource', {}, resource]],
];
/** XEP-0198 §3: stream management, resumable. */
export const enable = (): Xml => ['enable', { xmlns: NS.sm, resume: 'true' }];
/** XEP-0198 §5: resumes stream `previd`, having handled `h` of the server's stanzas. */
export const resume = (previd: string, h: number): Xml => ['resume', { xmlns: NS.sm, previd, h: String(h) }];
/** XEP-0198 §4: an acknowledgement request, and an acknowledgement of `h` stanzas handled. */
export const ackRequest = (): Xml => ['r', { xmlns: NS.sm }];
export const ack = (h: number): Xml => ['a', { xmlns: NS.sm, h: String(h) }];

/** Whether `tree` (written) or an element (read) is a stanza, which XEP-0198 counts (§4). */
export const isStanza = (name: string, ns: string = NS.client) =>
  ns === NS.client && (name === 'message' || name === 'presence' || name === 'iq');

/** Initial presence (RFC 6121 §4.2): a resource without it gets no chats sent to the bare JID. */
export const presence = (): Xml => ['presence', { xmlns: NS.client }];
export const ping = (id: string, domain: string): Xml => [
  'iq',
  { xmlns: NS.client, type: 'get', id, to: domain },
  ['ping', { xmlns: NS.ping }],
];
/** A chat asking for a receipt (XEP-0184 §5.1). */
export const chat = (id: string, to: string, text: string): Xml => [
  'message',
  { xmlns: NS.client, type: 'chat', id, to },
  ['body', {}, text],
  ['request', { xmlns: NS.receipts }],
];
export const receipt = (id: string, to: string, of: string): Xml => [
  'message',
  { xmlns: NS.client, id, to },
  ['received', { xmlns: NS.receipts, id: of }],
];
/** An `iq` or `message` error answering `id` (RFC 6120 §8.3): `condition` of urn:…:xmpp-stanzas. */
export const stanzaError = (
  kind: 'iq' | 'message',
  id: string,
  to: string | undefined,
  condition: string,
): Xml => [
  kind,
  { xmlns: NS.client, type: 'error', id, to },
  ['error', { type: 'cancel' }, [condition, { xmlns: NS.stanzas }]],
];
/** The canonical presence states, and XMPP's `<show/>` for each (none: available; RFC 6121 §4.7.2.1). */
export type PresenceStatus = 'online' | 'away' | 'busy' | 'offline';
const SHOW: Readonly<Record<PresenceStatus, string | undefined>> = {
  online: undefined,
  away: 'away',
  busy: 'dnd',
  offline: undefined,
};

/** Directed presence to `to` (RFC 6121 §4.6): `offline` is `unavailable`; `note` its `<status/>`. */
export function directedPresence(to: string, status: PresenceStatus, note: string | undefined): Xml {
  const show = SHOW[status];
  return [
    'presence',
    { xmlns: NS.client, to, type: status === 'offline' ? 'unavailable' : undefined },
    ...(show ? [['show', {}, show] as Xml] : []),
    ...(note ? [['status', {}, note] as Xml] : []),
  ];
}

/** The canonical status of a presence stanza's type and `<show/>` (`xa` is away, `chat` online). */
function statusOf(type: string | undefined, show: string | undefined): PresenceStatus {
  if (type === 'unavailable') return 'offline';
  if (show === 'away' || show === 'xa') return 'away';
  return show === 'dnd' ? 'busy' : 'online';
}

export const pong = (id: string, to: string | undefined): Xml => [
  'iq',
  { xmlns: NS.client, type: 'result', id, to },
];

/** Stanza error conditions (RFC 6120 §8.3.3) as response codes, both ways. */
const CONDITIONS: readonly (readonly [string, number])[] = [
  ['item-not-found', 404],
  ['recipient-unavailable', 404],
  ['remote-server-not-found', 404],
  ['bad-request', 400],
  ['not-acceptable', 400],
  ['not-authorized', 401],
  ['forbidden', 403],
  ['not-allowed', 405],
  ['policy-violation', 403],
  ['feature-not-implemented', 501],
  ['remote-server-timeout', 504],
  ['resource-constraint', 503],
  ['service-unavailable', 503],
  ['internal-server-error', 500],
];

/** The response code for a stanza error's condition (500 for one not listed). */
export const codeOfCondition = (condition: string | undefined) =>
  CONDITIONS.find(([c]) => c === condition)?.[1] ?? 500;
/** The condition that says `code` best. */
export const conditionOfCode = (code: number) =>
  CONDITIONS.find(([, c]) => c === code)?.[0] ?? (code >= 500 ? 'service-unavailable' : 'not-acceptable');

/** A chat from someone: its sender, its id, its text, whether it asks for a receipt. */
export interface Chat {
  readonly verb: 'chat';
  readonly from: Jid;
  readonly id: string | undefined;
  readonly text: string;
  readonly wantsReceipt: boolean;
}

/** XEP-0353: a call proposed, retracted, accepted (proceed), rejected or ringing, by session id. */
export interface Jmi {
  readonly verb: 'jmi';
  readonly from: Jid;
  readonly action: 'propose' | 'retract' | 'accept' | 'proceed' | 'reject' | 'ringing';
  readonly sid: string;
}
const JMI_ACTIONS: readonly string[] = ['propose', 'retract', 'accept', 'proceed', 'reject', 'ringing'];

/** A JMI message (XEP-0353 §3) for session `sid`: `propose` says what media. */
export function jmi(to: string, action: Jmi['action'], sid: string, media: readonly string[] = []): Xml {
  return [
    'message',
    { xmlns: NS.client, type: 'chat', to, id: `${action}-${sid}` },
    [
      action,
      { xmlns: JINGLE.jmi, id: sid },
      ...media.map((m): Xml => ['description', { xmlns: JINGLE.rtp, media: m }]),
    ],
    // XEP-0334: a proposal is kept for a user offline; the rest mean nothing later.
    ...(action === 'propose' ? [['store', { xmlns: 'urn:xmpp:hints' }] as Xml] : []),
  ];
}

/** A frame from the server, read. */
export type Frame =
  | { readonly verb: 'open' }
  | { readonly verb: 'close' }
  | { readonly verb: 'stream-error'; readonly condition: string }
  | {
      readonly verb: 'features';
      readonly mechanisms: readonly string[];
      readonly bind: boolean;
      /** XEP-0198 offered. */
      readonly sm: boolean;
    }
  | { readonly verb: 'sm-enabled'; readonly id: string | undefined }
  | { readonly verb: 'sm-resumed' | 'sm-ack'; readonly h: number }
  | { readonly verb: 'sm-failed'; readonly h: number | undefined; readonly condition: string }
  | { readonly verb: 'sm-request' }
  | { readonly verb: 'challenge' | 'success'; readonly data: string }
  | { readonly verb: 'failure'; readonly condition: string }
  | { readonly verb: 'iq-result' | 'iq-error'; readonly id: string; readonly jid: string | undefined }
  | {
      readonly verb: 'iq-request';
      readonly id: string;
      readonly from: string | undefined;
      readonly ping: boolean;
      /** A Jingle action (XEP-0166), when the iq is one. */
      readonly jingle: XmlElement | undefined;
    }
  | Jmi
  | Chat
  | { readonly verb: 'receipt'; readonly from: Jid; readonly id: string }
  | { readonly verb: 'message-error'; readonly from: Jid; readonly id: string; readonly code: number }
  | {
      readonly verb: 'presence';
      readonly from: Jid;
      readonly status: PresenceStatus;
      readonly note: string | undefined;
    }
  | { readonly verb: 'ignored'; readonly what: string };

/** The first child element's name (a condition), whatever its namespace. */
const firstChild = (el: XmlElement | undefined) =>
  el?.children.find((c): c is XmlElement => typeof c !== 'string')?.name;

/** Reads an element the server sent; undefined for one the stub does not know. */
export function readFrame(el: XmlElement): Frame | undefined {
  const { name, ns, attrs } = el;
  if (ns === NS.framing) return name === 'open' || name === 'close' ? { verb: name } : undefined;
  if (ns === NS.streams && name === 'error') return { verb: 'stream-error', condition: firstChild(el) ?? '' };
  if (ns === NS.streams && name === 'features') {
    const mechs = child(el, 'mechanisms', NS.sasl);
    const mechanisms = (mechs?.children ?? []).flatMap((m) =>
      typeof m !== 'string' && m.name === 'mechanism' ? [textOf(m).trim()] : [],
    );
    return {
      verb: 'features',
      mechanisms,
      bind: child(el, 'bind', NS.bind) !== undefined,
      sm: child(el, 'sm', NS.sm) !== undefined,
    };
  }
  if (ns === NS.sm) return readManagement(el);
  if (ns === NS.sasl) {
    if (name === 'challenge' || name === 'success') return { verb: name, data: textOf(el).trim() };
    if (name === 'failure') return { verb: 'failure', condition: firstChild(el) ?? '' };
    return undefined;
  }
  if (ns !== NS.client) return undefined;
  const id = attrs.get('id');
  if (name === 'iq') return readIq(el, id);
  if (name === 'message') return readMessage(el, id);
  if (name === 'presence') return readPresence(el);
  return undefined;
}

/** XEP-0198's elements; one whose count is not a 32-bit unsigned integer is not understood. */
function readManagement(el: XmlElement): Frame | undefined {
  const h = el.attrs.get('h');
  const count = h === undefined ? undefined : readCount(h);
  switch (el.name) {
    case 'enabled': {
      const resume = el.attrs.get('resume');
      return { verb: 'sm-enabled', id: resume === 'true' || resume === '1' ? el.attrs.get('id') : undefined };
    }
    case 'r':
      return { verb: 'sm-request' };
    case 'a':
    case 'resumed':
      return count === undefined ? undefined : { verb: el.name === 'a' ? 'sm-ack' : 'sm-resumed', h: count };
    case 'failed':
      return { verb: 'sm-failed', h: count, condition: firstChild(el) ?? '' };
    default:
      return undefined;
  }
}

/** XEP-0198's `h`: decimal digits, at most 2^32 - 1 (it wraps, §4). */
function readCount(text: string): number | undefined {
  if (text.length === 0 || text.length > 10) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

function readIq(el: XmlElement, id: string | undefined): Frame | undefined {
  const type = el.attrs.get('type');
  if (id === undefined) return undefined;
  if (type === 'result' || type === 'error') {
    const jid = child(el, 'bind', NS.bind);
    const text = jid && child(jid, 'jid', NS.bind);
    return { verb: type === 'result' ? 'iq-result' : 'iq-error', id, jid: text && textOf(text) };
  }
  if (type === 'get' || type === 'set')
    return {
      verb: 'iq-request',
      id,
      from: el.attrs.get('from'),
      ping: child(el, 'ping', NS.ping) !== undefined,
      jingle: type === 'set' ? child(el, 'jingle', JINGLE.jingle) : undefined,
    };
  return undefined;
}

function readMessage(el: XmlElement, id: string | undefined): Frame | undefined {
  const from = readJid(el.attrs.get('from'));
  if (!from || !addressOf(from)) return undefined;
  const type = el.attrs.get('type') ?? 'normal';
  if (type === 'error') {
    if (id === undefined) return undefined;
    return { verb: 'message-error', from, id, code: codeOfCondition(firstChild(child(el, 'error'))) };
  }
  for (const c of el.children) {
    if (typeof c === 'string' || c.ns !== JINGLE.jmi || !JMI_ACTIONS.includes(c.name)) continue;
    const sid = c.attrs.get('id');
    if (sid) return { verb: 'jmi', from, action: c.name as Jmi['action'], sid };
  }
  const received = child(el, 'received', NS.receipts)?.attrs.get('id');
  if (received !== undefined) return { verb: 'receipt', from, id: received };
  const body = child(el, 'body');
  if (body === undefined) return { verb: 'ignored', what: 'a message without a body' };
  if (type !== 'chat' && type !== 'normal') return { verb: 'ignored', what: `a ${type} message` };
  const wantsReceipt = child(el, 'request', NS.receipts) !== undefined;
  return { verb: 'chat', from, id, text: textOf(body), wantsReceipt };
}

/** The canonical body's note is at most this long. */
const MAX_NOTE = 256;

/** Availability from someone (RFC 6121 §4.7): available or unavailable; subscriptions, probes and errors are not presence states. */
function readPresence(el: XmlElement): Frame | undefined {
  const from = readJid(el.attrs.get('from'));
  const type = el.attrs.get('type');
  if (!from || (type !== undefined && type !== 'unavailable'))
    return { verb: 'ignored', what: `a presence of type ${type}` };
  const show = child(el, 'show');
  const note = child(el, 'status');
  return {
    verb: 'presence',
    from,
    status: statusOf(type, show && textOf(show).trim()),
    note: note ? textOf(note).slice(0, MAX_NOTE) || undefined : undefined,
  };
}
