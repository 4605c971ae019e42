import type { SipResponse } from '../message/index.js';
import type { AppRequest } from './session-host.js';

/**
 * Response codes across the two models. protofly's are HTTP-like (core/message.ts `Code`);
 * SIP's (RFC 3261 §21) share the classes and most meanings.
 */

/**
 * The SIP final response for the runtime's answer to a request it was handed: 200 taken, 400
 * not canonical, 404 nobody has a conversation for it (in SIP, the user is there but not
 * taking this: 480), 408, 413 as they are, 429 and 503 (the runtime is busy) as 503.
 */
export function sipStatusOf(code: number): number {
  if (code >= 200 && code < 300) return 200;
  switch (code) {
    case 400:
    case 408:
    case 413:
      return code;
    case 404:
      return 480;
    case 429:
    case 503:
      return 503;
    default:
      return code >= 400 && code < 700 ? code : 500;
  }
}

/** The protofly code for a SIP final response: 2xx is 200; every other final keeps its code. */
export function codeOf(status: number): number {
  return status >= 200 && status < 300 ? 200 : status;
}

/**
 * Answers the app's request with the far side's final response: its code, its reason as the
 * description, and the SIP status in front only when the code is another ("got 500 500 ..."
 * said it twice).
 */
export function answerWith(app: AppRequest, res: SipResponse): void {
  const code = codeOf(res.status);
  app.respond(code, code === res.status ? res.reason : `SIP ${res.status} ${res.reason}`);
}
