import {
  CONTACT,
  CONTENT_TYPE,
  Headers,
  type MediaType,
  type NameAddr,
  RECORD_ROUTE,
  type SipRequest,
  SipResponse,
  TO,
} from '../message/index.js';
import { newTag } from './identifiers.js';

/** RFC 3261 §20.5: the methods this user agent takes (RFC 3311 UPDATE, RFC 3262 PRACK, RFC 6086 INFO). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, MESSAGE, OPTIONS, UPDATE, PRACK, INFO';
/** RFC 3261 §20.37: the option tags this user agent understands (RFC 3262 reliable provisionals). */
export const SUPPORTED = ['100rel'] as const;
/** Whether option tag `tag` is among {@link SUPPORTED} (option tags compare case-sensitively, §19.2). */
export function isSupported(tag: string): boolean {
  return (SUPPORTED as readonly string[]).includes(tag);
}
/** §20.1: the bodies each method may carry here; OPTIONS, which asks about the user agent, gets them all. */
const ACCEPT: Readonly<Record<string, string>> = {
  INVITE: 'application/sdp',
  UPDATE: 'application/sdp',
  PRACK: 'application/sdp',
  ACK: 'application/sdp',
  MESSAGE: 'text/plain, text/*, message/cpim',
  INFO: 'application/dtmf-relay',
  OPTIONS: 'application/sdp, text/plain, text/*, message/cpim, application/dtmf-relay',
};

/** RFC 3261 §21: the reason phrases this stub writes. */
const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  420: 'Bad Extension',
  469: 'Bad Info Package',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  603: 'Decline',
};

/** The reason phrase of `status`, or a generic one for its class. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? REASONS[Math.floor(status / 100) * 100] ?? 'Unknown';
}

/** What a response says beyond what {@link createResponse} derives from its request and status. */
export interface ResponseOptions {
  readonly reason?: string | undefined;
  /** §8.2.6.2: the To tag of the dialog this response makes or belongs to (else a fresh one). */
  readonly toTag?: string | undefined;
  /** §21.4.15: with 420, the option tags of the request's Require this user agent lacks. */
  readonly unsupported?: readonly string[];
  /**
   * §12.1.1, §12.2: Contact of a response that makes a dialog or answers a target refresh;
   * the request's Record-Route is copied with it.
   */
  readonly contact?: NameAddr;
  /** A body, of its Content-Type. */
  readonly body?: { readonly type: MediaType; readonly text: string };
  /** Extra header fields, in order (RSeq, Retry-After, Recv-Info...). */
  readonly extra?: readonly (readonly [name: string, value: string])[];
}

/**
 * Every response this user agent sends is built here, with what RFC 3261 asks of it for its
 * status and method:
 *
 * - §8.2.6.2: Via (every one, in order), From, Call-ID and CSeq copied; To copied, and "if the
 *   request did not contain a tag in the To header field, the UAS [...] MUST add a tag [...]
 *   for responses other than 100 (Trying)": the dialog's (`toTag`) or a fresh one.
 * - §21.4.6: "The response MUST include an Allow header field containing a list of valid
 *   methods for the indicated address" (405).
 * - §13.3.1.4: "A 2xx response to an INVITE SHOULD contain the Allow header field and the
 *   Supported header field"; §11.2: "Allow, Accept, Accept-Encoding, Accept-Language, and
 *   Supported header fields SHOULD be present in a 200 (OK) response to an OPTIONS request".
 * - §21.4.13: 415 "MUST return a list of acceptable formats using the Accept, Accept-Encoding,
 *   or Accept-Language header field".
 * - §21.4.15: 420 "MUST list the extensions it does not understand in an Unsupported header
 *   field".
 */
export function createResponse(
  request: SipRequest,
  status: number,
  options: ResponseOptions = {},
): SipResponse {
  const h = new Headers();
  for (const value of request.headers.getAll('Via')) h.append('Via', value);
  const to = request.to;
  if (status > 100 && !to.params.has('tag')) h.put(TO, [withTag(to, options.toTag ?? newTag())]);
  else h.append('To', request.headers.get('To')!);
  h.append('From', request.headers.get('From')!);
  h.append('Call-ID', request.headers.get('Call-ID')!);
  h.append('CSeq', request.headers.get('CSeq')!);
  const method = request.method;
  if (options.contact) {
    const rr = request.headers.all(RECORD_ROUTE);
    if (rr.length > 0) h.put(RECORD_ROUTE, rr);
    h.put(CONTACT, [options.contact]);
  }
  const capabilities =
    status === 405 || (status >= 200 && status < 300 && (method === 'INVITE' || method === 'OPTIONS'));
  if (capabilities) h.append('Allow', ALLOW);
  if (capabilities && status !== 405) h.append('Supported', SUPPORTED.join(', '));
  if (status === 415 || (status === 200 && method === 'OPTIONS')) {
    h.append('Accept', ACCEPT[method] ?? ACCEPT.OPTIONS!);
    h.append('Accept-Encoding', 'identity');
    h.append('Accept-Language', 'en');
  }
  if (status === 420) h.append('Unsupported', (options.unsupported ?? []).join(', '));
  for (const [name, value] of options.extra ?? []) h.append(name, value);
  const reason = options.reason ?? reasonPhrase(status);
  if (!options.body) return new SipResponse(status, reason, h);
  h.put(CONTENT_TYPE, [options.body.type]);
  return new SipResponse(status, reason, h, options.body.text);
}

/** `a` with a `tag` parameter (§19.3). */
export function withTag(a: NameAddr, tag: string): NameAddr {
  return { ...a, params: new Map([...a.params, ['tag', tag]]) };
}
