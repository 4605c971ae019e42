import { Headers, type NameAddr, type SipRequest, SipResponse, TO } from '../message/index.js';

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
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  603: 'Decline',
};

/** The reason phrase of `status`, or a generic one for its class. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? REASONS[Math.floor(status / 100) * 100] ?? 'Unknown';
}

/**
 * RFC 3261 §8.2.6: a response to `request`. Via (every one, in order), From, Call-ID and CSeq
 * are copied (§8.2.6.2); To is copied, with `toTag` added when the request's To has no tag
 * and `toTag` is given (a 100 Trying gets none).
 */
export function createResponse(
  request: SipRequest,
  status: number,
  options: { reason?: string; toTag?: string | undefined } = {},
): SipResponse {
  const h = new Headers();
  for (const value of request.headers.getAll('Via')) h.append('Via', value);
  const to = request.to;
  if (options.toTag !== undefined && !to.params.has('tag')) {
    h.put(TO, [withTag(to, options.toTag)]);
  } else {
    h.append('To', request.headers.get('To')!);
  }
  h.append('From', request.headers.get('From')!);
  h.append('Call-ID', request.headers.get('Call-ID')!);
  h.append('CSeq', request.headers.get('CSeq')!);
  return new SipResponse(status, options.reason ?? reasonPhrase(status), h);
}

/** `a` with a `tag` parameter (§19.3). */
export function withTag(a: NameAddr, tag: string): NameAddr {
  return { ...a, params: new Map([...a.params, ['tag', tag]]) };
}
