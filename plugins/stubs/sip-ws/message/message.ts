import {
  CALL_ID,
  CONTACT,
  CONTENT_TYPE,
  CSEQ,
  FROM,
  type HeaderCodec,
  MAX_FORWARDS,
  TO,
  VIA,
} from './codecs.js';
import type { CSeq } from './cseq.js';
import { fail } from './fault.js';
import { Headers } from './headers.js';
import type { MediaType } from './media-type.js';
import type { NameAddr } from './name-addr.js';
import type { Uri } from './uri.js';
import type { Via } from './via.js';

/**
 * RFC 3261 §7.4: a message body. Text when it is UTF-8 (every body a WebRTC endpoint sends:
 * SDP, text/plain, message/cpim...); bytes otherwise, which only a binary WebSocket frame can
 * carry (RFC 7118 §4.2).
 */
export type Body = string | Uint8Array;

/**
 * What requests and responses share (RFC 3261 §7): headers and a body, and typed views of the
 * headers every transaction and dialog reads. The views parse on first use and throw
 * `PF_ERR_SIP_PARSE` when the header is malformed or, for a required one, absent.
 */
export abstract class SipMessageBase {
  readonly headers: Headers;
  readonly body: Body;

  constructor(headers: Headers, body: Body) {
    this.headers = headers;
    this.body = body;
  }

  /** RFC 3261 §20.42: every Via, topmost first. */
  get vias(): readonly Via[] {
    return this.headers.all(VIA);
  }

  /** RFC 3261 §20.42: the topmost Via, the one that names the transaction (§17.2.3). */
  get via(): Via {
    return this.#required(VIA);
  }

  /** RFC 3261 §20.20. */
  get from(): NameAddr {
    return this.#required(FROM);
  }

  /** RFC 3261 §20.39. */
  get to(): NameAddr {
    return this.#required(TO);
  }

  /** RFC 3261 §20.8. */
  get callId(): string {
    return this.#required(CALL_ID);
  }

  /** RFC 3261 §20.16. */
  get cseq(): CSeq {
    return this.#required(CSEQ);
  }

  /** RFC 3261 §20.10: every Contact address, in order (none when absent). */
  get contacts(): readonly NameAddr[] {
    return this.headers.all(CONTACT);
  }

  /** RFC 3261 §20.15: undefined when the message has no Content-Type. */
  get contentType(): MediaType | undefined {
    return this.headers.first(CONTENT_TYPE);
  }

  #required<T>(codec: HeaderCodec<T>): T {
    const value = this.headers.first(codec);
    return value === undefined
      ? fail(`the message has no ${codec.name} header`, { header: codec.name })
      : value;
  }
}

/** RFC 3261 §7.1: a request. */
export class SipRequest extends SipMessageBase {
  /** Case-sensitive (RFC 3261 §7.1): `INVITE`, `MESSAGE`, or an extension method. */
  readonly method: string;
  readonly uri: Uri;

  constructor(method: string, uri: Uri, headers: Headers = new Headers(), body: Body = '') {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  /** RFC 3261 §20.22: undefined when absent (`parse` refuses a request without one). */
  get maxForwards(): number | undefined {
    return this.headers.first(MAX_FORWARDS);
  }
}

/** RFC 3261 §7.2: a response. */
export class SipResponse extends SipMessageBase {
  /** 100 to 699. */
  readonly status: number;
  /** Free text, possibly empty (RFC 4475 §3.1.1.13). */
  readonly reason: string;

  constructor(status: number, reason: string, headers: Headers = new Headers(), body: Body = '') {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }
}

/** A request or a response. */
export type SipMessage = SipRequest | SipResponse;
