import type { ConversationBody } from 'protofly/stub';
import { full, type Jid, jidOf } from './jid.js';
import { contentsXml, JINGLE, type Role, readCandidates, readContents, transportXml } from './jingle.js';
import { type Media, readCandidate, readSdp, type Session, writeCandidate, writeSdp } from './sdp.js';
import * as x from './stanzas.js';
import type { Xml, XmlElement } from './xml.js';

/**
 * Calls as Jingle sessions (XEP-0166, RTP XEP-0167, ICE-UDP XEP-0176), rung with Jingle Message
 * Initiation (XEP-0353); the sid is the canonical callId. README "Calls" has the whole mapping.
 *
 * Out: the app's offer is a `<propose/>` to the peer's bare JID; its request is answered 200 by
 * the first `<ringing/>` or `<proceed/>` (with a `progress` 180 for ringing), or by the code of a
 * `<reject/>` that came first. `<proceed/>` names the device: the session-initiate goes to it,
 * and its session-accept is the app's `answer`.
 * In: a `<propose/>` is proceeded with at once (the SDP, which the app's offer needs, comes only
 * with the session-initiate); the session-initiate is the app's `offer`, and `<ringing/>` goes
 * once the runtime took it; the app's `answer` is the session-accept.
 */

/** What the calls need of the stream. */
export interface CallHost {
  /** Writes a stanza. */
  write(tree: Xml): void;
  /** Sends an `iq` set to `to`; `done` hears whether a result came (else an error). */
  iq(to: string, payload: Xml, done?: (ok: boolean) => void): void;
  /** Hands a call body from `peer` (an address) to the runtime, as `create` (an offer) or `update`; `answered` hears its code. */
  tell(peer: string, body: ConversationBody, answered?: (code: number) => void): void;
  /** Our full JID, once bound. */
  me(): string;
}

/** The app's request about a call, and how to answer it. */
export interface CallRequest {
  readonly peer: string;
  /** The peer's bare JID. */
  readonly to: string;
  respond(code: number, detail?: string): void;
}

interface Call {
  readonly sid: string;
  readonly peer: string;
  readonly role: Role;
  /** The far side's full JID, once known (its `<proceed/>`, or the session-initiate's sender). */
  jid: string | undefined;
  state: 'proposed' | 'pending' | 'active';
  /** Our description: its sections' ICE credentials go with the candidates we trickle. */
  ours: Session | undefined;
  /** The app's offer request, until the far side rings, proceeds or rejects. */
  request: CallRequest | undefined;
}

/** Jingle's reasons (XEP-0166 §7.4) for a refusal's code, both ways; 480 for the rest. */
const REASONS: readonly (readonly [string, number])[] = [
  ['busy', 486],
  ['decline', 603],
  ['incompatible-parameters', 488],
  ['unsupported-applications', 488],
  ['timeout', 408],
  ['gone', 410],
  ['cancel', 487],
];
const reasonOf = (code: number) => REASONS.find(([, c]) => c === code)?.[0] ?? 'general-error';
const codeOf = (reason: string | undefined) => REASONS.find(([r]) => r === reason)?.[1] ?? 480;

/** A callId is 1-128 visible ASCII characters (schemas/conversation.schema.json). */
function isCallId(sid: string): boolean {
  if (sid.length < 1 || sid.length > 128) return false;
  for (let i = 0; i < sid.length; i++) if (sid.charCodeAt(i) < 0x21 || sid.charCodeAt(i) > 0x7e) return false;
  return true;
}

const jingle = (action: string, sid: string, attrs: Record<string, string>, ...children: Xml[]): Xml => [
  'jingle',
  { xmlns: JINGLE.jingle, action, sid, ...attrs },
  ...children,
];
const reason = (name: string): Xml => ['reason', {}, [name, {}]];

export class Calls {
  /** By peer address and sid. */
  readonly #calls = new Map<string, Call>();

  constructor(private readonly host: CallHost) {}

  /** The app's body for a call (an offer, or any update naming a callId). */
  post(req: CallRequest, body: ConversationBody): void {
    if (body.kind === 'offer') return this.#offer(req, body.callId, body.sdp);
    const callId = 'callId' in body ? body.callId : undefined;
    const call = callId === undefined ? undefined : this.#calls.get(`${req.peer} ${callId}`);
    if (!call) {
      // A bye for the whole conversation ends its calls; accepting or refusing it has no Jingle form.
      if (callId === undefined && (body.kind === 'bye' || body.kind === 'accept' || body.kind === 'reject')) {
        if (body.kind === 'bye')
          for (const c of this.#calls.values()) if (c.peer === req.peer) this.#end(c, 'success');
        return req.respond(200);
      }
      return req.respond(404, `no call ${callId} with ${req.peer}`);
    }
    switch (body.kind) {
      case 'answer':
        return this.#accept(req, call, body.sdp);
      case 'candidate':
        return this.#candidate(
          req,
          call,
          body.candidate,
          body.sdpMid ?? undefined,
          body.sdpMLineIndex ?? undefined,
        );
      case 'bye':
        this.#end(call, 'success');
        return req.respond(200);
      case 'reject':
        this.#end(call, reasonOf(body.code));
        return req.respond(200);
      case 'accept':
      case 'progress':
        // Jingle accepts with the session-accept (the answer), and rings by itself once the runtime has the offer.
        return req.respond(200);
      default:
        return req.respond(501, `xmpp-ws carries no ${body.kind} in a call`);
    }
  }

  #offer(req: CallRequest, sid: string, sdp: string): void {
    const key = `${req.peer} ${sid}`;
    if (this.#calls.has(key)) return req.respond(400, `call ${sid} with ${req.peer} exists already`);
    const ours = readSdp(sdp);
    if (!ours) return req.respond(488, 'the SDP has no audio or video section Jingle can carry');
    this.#calls.set(key, {
      sid,
      peer: req.peer,
      role: 'initiator',
      jid: undefined,
      state: 'proposed',
      ours,
      request: req,
    });
    this.host.write(
      x.jmi(
        req.to,
        'propose',
        sid,
        ours.media.map((m) => m.kind),
      ),
    );
  }

  #accept(req: CallRequest, call: Call, sdp: string): void {
    if (call.role !== 'responder' || call.state !== 'pending' || !call.jid)
      return req.respond(409, `call ${call.sid} has no offer waiting for an answer`);
    const ours = readSdp(sdp);
    if (!ours) return req.respond(488, 'the SDP has no audio or video section Jingle can carry');
    call.ours = ours;
    call.state = 'active';
    this.host.iq(
      call.jid,
      jingle('session-accept', call.sid, { responder: this.host.me() }, ...contentsXml(ours, 'responder')),
      (ok) => req.respond(ok ? 200 : 500, ok ? undefined : 'the far side refused the session-accept'),
    );
  }

  #candidate(
    req: CallRequest,
    call: Call,
    candidate: string,
    mid: string | undefined,
    index: number | undefined,
  ): void {
    // The end of the trickle (RFC 8838 §4.4) has no XEP-0176 form: nothing goes.
    if (candidate === '') return req.respond(200);
    const c = readCandidate(candidate);
    if (!c) return req.respond(400, 'not an ICE candidate (RFC 8839 §5.1)');
    const media: Media | undefined =
      call.ours?.media.find((m) => m.mid === mid) ??
      (index === undefined ? undefined : call.ours?.media[index]);
    if (!media) return req.respond(400, `call ${call.sid} has no media section ${mid ?? index}`);
    if (!call.jid) return req.respond(409, `call ${call.sid} is not under way yet`);
    this.host.iq(
      call.jid,
      jingle('transport-info', call.sid, {}, [
        'content',
        { creator: 'initiator', name: media.mid },
        transportXml(media, [c]),
      ]),
      (ok) => req.respond(ok ? 200 : 500, ok ? undefined : 'the far side refused the candidate'),
    );
  }

  /** Ends a call: a `<retract/>` while only proposed, else session-terminate with `why`. */
  #end(call: Call, why: string): void {
    this.#calls.delete(`${call.peer} ${call.sid}`);
    call.request?.respond(487, 'the call ended before the far side answered');
    if (!call.jid) return this.host.write(x.jmi(jidOf(call.peer)!, 'retract', call.sid));
    this.host.iq(call.jid, jingle('session-terminate', call.sid, {}, reason(why)));
  }

  /** XEP-0353 from the far side. */
  jmi(from: Jid, peer: string, action: x.Jmi['action'], sid: string): void {
    const call = this.#calls.get(`${peer} ${sid}`);
    if (action === 'propose') {
      // Proceeded with at once: the session-initiate carries the offer the app needs.
      if (!call && isCallId(sid)) this.host.write(x.jmi(full(from), 'proceed', sid));
      return;
    }
    if (!call) return;
    if (action === 'retract') {
      this.#calls.delete(`${peer} ${sid}`);
      return this.host.tell(peer, { kind: 'bye', callId: sid, reason: 'retracted' });
    }
    if (call.role !== 'initiator') return;
    if (action === 'ringing') {
      this.#answered(call);
      return this.host.tell(peer, { kind: 'progress', callId: sid, code: 180 });
    }
    if (action === 'reject') {
      this.#calls.delete(`${peer} ${sid}`);
      if (call.request) return this.#answered(call, 603);
      return this.host.tell(peer, { kind: 'reject', callId: sid, code: 603 });
    }
    if ((action === 'proceed' || action === 'accept') && call.state === 'proposed' && call.ours) {
      this.#answered(call);
      call.jid = full(from);
      call.state = 'pending';
      this.host.iq(
        call.jid,
        jingle(
          'session-initiate',
          sid,
          { initiator: this.host.me() },
          ...contentsXml(call.ours, 'initiator'),
        ),
      );
    }
  }

  #answered(call: Call, code = 200): void {
    call.request?.respond(code, code === 200 ? undefined : 'declined');
    call.request = undefined;
  }

  /** A Jingle iq from the far side; the iq's answer is ours to write (true: a result). */
  jingle(from: Jid, peer: string, el: XmlElement): boolean {
    const sid = el.attrs.get('sid') ?? '';
    const action = el.attrs.get('action');
    const key = `${peer} ${sid}`;
    const call = this.#calls.get(key);
    if (action === 'session-initiate') {
      if (call || !isCallId(sid)) return false;
      const theirs = readContents(el, 'initiator');
      const jid = full(from);
      if (!theirs) {
        this.host.iq(jid, jingle('session-terminate', sid, {}, reason('unsupported-applications')));
        return true;
      }
      this.#calls.set(key, {
        sid,
        peer,
        role: 'responder',
        jid,
        state: 'pending',
        ours: undefined,
        request: undefined,
      });
      const media = [...new Set(theirs.media.map((m) => m.kind))];
      this.host.tell(peer, { kind: 'offer', callId: sid, sdp: writeSdp(theirs, '0'), media }, (code) => {
        if (!this.#calls.has(key)) return;
        if (code === 200) return this.host.write(x.jmi(jid, 'ringing', sid));
        this.#calls.delete(key);
        this.host.iq(jid, jingle('session-terminate', sid, {}, reason(reasonOf(code))));
      });
      return true;
    }
    if (!call || call.jid !== full(from)) return false;
    switch (action) {
      case 'session-accept': {
        const theirs = readContents(el, 'responder');
        if (call.role !== 'initiator' || call.state !== 'pending' || !theirs) return false;
        call.state = 'active';
        this.host.tell(peer, { kind: 'answer', callId: sid, sdp: writeSdp(theirs, '0') });
        return true;
      }
      case 'session-terminate': {
        this.#calls.delete(key);
        const why = firstName(el, 'reason');
        this.host.tell(
          peer,
          call.state === 'active' || why === 'success' || why === undefined
            ? { kind: 'bye', callId: sid, ...(why ? { reason: why } : {}) }
            : { kind: 'reject', callId: sid, code: codeOf(why), reason: why },
        );
        return true;
      }
      case 'transport-info':
        for (const content of el.children) {
          if (typeof content === 'string' || content.name !== 'content') continue;
          const transport = content.children.find(
            (t): t is XmlElement => typeof t !== 'string' && t.name === 'transport' && t.ns === JINGLE.ice,
          );
          const mid = content.attrs.get('name') ?? null;
          for (const c of transport ? readCandidates(transport) : [])
            this.host.tell(peer, {
              kind: 'candidate',
              callId: sid,
              candidate: writeCandidate(c),
              sdpMid: mid,
            });
        }
        return true;
      default:
        return false;
    }
  }
}

/** The name of the first element child of `el`'s child `name`. */
function firstName(el: XmlElement, name: string): string | undefined {
  const r = el.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === name);
  return r?.children.find((c): c is XmlElement => typeof c !== 'string')?.name;
}
