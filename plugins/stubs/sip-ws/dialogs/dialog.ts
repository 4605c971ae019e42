import {
  CALL_ID,
  CONTACT,
  CSEQ,
  FROM,
  Headers,
  isSipUri,
  MAX_FORWARDS,
  type NameAddr,
  RECORD_ROUTE,
  ROUTE,
  SipRequest,
  type SipResponse,
  TO,
  type Uri,
} from '../message/index.js';
import { withTag } from '../user-agent-core/responses.js';

/** RFC 3261 §12: a dialog's id, Call-ID and both tags. */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

/** The tag parameter of a From or To value. */
export function tagOf(a: NameAddr): string | undefined {
  return a.params.get('tag') ?? undefined;
}

/**
 * RFC 3261 §12: a peer-to-peer relationship between two user agents, made by a 2xx to an
 * INVITE, or early by a reliable provisional response (RFC 3262: its PRACK is sent in it). It
 * holds what every later request in it needs: the route set, the remote target, both sequence
 * numbers and both tags.
 */
export class Dialog {
  /** §12.2.1.1: the last CSeq sent in the dialog. */
  localSeq: number;
  /** §12.2.2: the last CSeq received, or undefined before any. */
  remoteSeq: number | undefined;
  /** §12.2: the remote target, refreshed by target refresh requests and their 2xx. */
  remoteTarget: Uri;

  private constructor(
    readonly callId: string,
    /** Our URI with our tag: From in what we send. */
    readonly local: NameAddr,
    /** Theirs with their tag: To in what we send. */
    readonly remote: NameAddr,
    remoteTarget: Uri,
    /** §12.1: the Route headers of requests in the dialog, in order. */
    readonly routeSet: readonly NameAddr[],
    localSeq: number,
    remoteSeq: number | undefined,
  ) {
    this.remoteTarget = remoteTarget;
    this.localSeq = localSeq;
    this.remoteSeq = remoteSeq;
  }

  /**
   * §12.1.2: the UAC's dialog from a 2xx to its INVITE. The route set is the response's
   * Record-Route reversed; the remote target its Contact; the local sequence number the
   * INVITE's CSeq.
   */
  static asUac(request: SipRequest, response: SipResponse): Dialog {
    const target = response.contacts[0]?.uri ?? request.uri;
    return new Dialog(
      request.callId,
      request.from,
      response.to,
      target,
      [...response.headers.all(RECORD_ROUTE)].reverse(),
      request.cseq.seq,
      undefined,
    );
  }

  /**
   * §12.1.1: the UAS's dialog from an INVITE it answers 2xx with `localTag` in To. The route
   * set is the request's Record-Route in order; the remote target its Contact; the remote
   * sequence number its CSeq. The local one starts at 0: the first request sent is CSeq 1.
   */
  static asUas(request: SipRequest, localTag: string): Dialog {
    const target = request.contacts[0]?.uri ?? request.uri;
    return new Dialog(
      request.callId,
      withTag(request.to, localTag),
      request.from,
      target,
      request.headers.all(RECORD_ROUTE),
      0,
      request.cseq.seq,
    );
  }

  get localTag(): string {
    return tagOf(this.local) ?? '';
  }

  get remoteTag(): string {
    return tagOf(this.remote) ?? '';
  }

  /** The dialog id (§12), as {@link dialogKey} spells it. */
  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §12.2.1.1: a request within the dialog, without its Via (the transaction adds it). CSeq
   * is the next local number, except for ACK, which takes `seq` (its INVITE's, §13.2.2.4).
   *
   * The Request-URI is the remote target and the route set goes into Route, unless the first
   * route is a strict router (no `lr`): then it becomes the Request-URI, and the remote target
   * the last Route.
   */
  request(method: string, contact: NameAddr | undefined, seq?: number): SipRequest {
    const h = new Headers();
    let uri = this.remoteTarget;
    let routes = this.routeSet;
    const first = routes[0];
    if (first && isSipUri(first.uri) && !first.uri.params.has('lr')) {
      // §12.2.1.1: strict routing; the Request-URI takes no headers or method parameter (§19.1.1 Table 1).
      uri = { ...first.uri, headers: new Map() };
      routes = [...routes.slice(1), { displayName: undefined, uri: this.remoteTarget, params: new Map() }];
    }
    h.put(MAX_FORWARDS, [70]);
    h.put(TO, [this.remote]);
    h.put(FROM, [this.local]);
    h.put(CALL_ID, [this.callId]);
    h.put(CSEQ, [{ seq: seq ?? ++this.localSeq, method }]);
    if (routes.length > 0) h.put(ROUTE, routes);
    if (contact) h.put(CONTACT, [contact]);
    return new SipRequest(method, uri, h);
  }

  /**
   * §12.2.2: checks a request received in the dialog. False when its CSeq is lower than the
   * last one (out of order: the UAS answers 500); otherwise records it, and a target refresh
   * request's Contact (re-INVITE, §12.2; UPDATE, RFC 3311 §5.2) becomes the remote target.
   */
  receive(request: SipRequest): boolean {
    const seq = request.cseq.seq;
    if (request.method !== 'ACK' && request.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
      this.remoteSeq = seq;
    }
    const refresh = request.method === 'INVITE' || request.method === 'UPDATE';
    const contact = refresh ? request.contacts[0] : undefined;
    if (contact) this.remoteTarget = contact.uri;
    return true;
  }
}
