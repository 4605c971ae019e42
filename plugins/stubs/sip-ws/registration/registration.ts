import { Backoff } from '../../../../core/backoff.js';
import { ProtoflyError } from '../../../../core/errors.js';
import {
  CALL_ID,
  CONTACT,
  CSEQ,
  EXPIRES,
  FROM,
  formatUri,
  Headers,
  MAX_FORWARDS,
  MIN_EXPIRES,
  type NameAddr,
  SipRequest,
  type SipResponse,
  type SipUri,
  SUPPORTED,
  TO,
} from '../message/index.js';
import type { Timer, TimerQueue } from '../timers/timer-queue.js';
import { newCallId, newTag } from '../user-agent-core/identifiers.js';
import { withTag } from '../user-agent-core/responses.js';
import type { UserAgentCore } from '../user-agent-core/user-agent-core.js';

/** What a registration tells its user agent. */
export interface RegistrationDelegate {
  /** The binding holds (first time, after a refresh, or after a reconnect). */
  onRegistered(expires: number): void;
  /** The registrar refused for good (credentials, forbidden): no retry. */
  onFailed(err: ProtoflyError): void;
  /** The registrar could not be had now (timeout, 5xx, lost connection); `retryMs` later it is tried again. */
  onUnavailable(detail: string, retryMs: number): void;
}

/**
 * RFC 3261 §10 registration of one AOR, with RFC 5626 outbound and RFC 7118 §5 contact:
 *
 *     REGISTER sip:c.example
 *     Contact: <sip:k3j2@df7jal23ls0d.invalid;transport=ws;ob>;reg-id=1;+sip.instance="<urn:uuid:...>";expires=600
 *     Supported: path, outbound
 *
 * One Call-ID and a growing CSeq for every REGISTER of the binding (§10.2), so that the
 * registrar orders them; the refresh is sent ahead of the expiry the registrar granted
 * (§10.2.1.1, its Contact's expires or the Expires header); 423 is answered with the
 * Min-Expires asked for (§10.2.8); a refused challenge fails, without a loop.
 */
export class Registration {
  readonly #callId = newCallId();
  readonly #fromTag = newTag();
  #seq = 0;
  #expires: number;
  #refresh: Timer | undefined;
  readonly #backoff: Backoff;
  /** Bumped by `cancel`: a response to an older REGISTER changes nothing. */
  #generation = 0;

  constructor(
    readonly core: UserAgentCore,
    readonly timers: TimerQueue,
    readonly aor: SipUri,
    readonly contact: NameAddr,
    expires: number,
    readonly delegate: RegistrationDelegate,
  ) {
    this.#expires = expires;
    this.#backoff = new Backoff(2000, 60_000, 0.5, `${aor.user}@${aor.host}`);
  }

  /** Sends a REGISTER for the binding (again after a reconnect). */
  register(): void {
    this.#refresh?.cancel();
    const generation = this.#generation;
    const out = this.core.send(this.#request(this.#expires), (res) => {
      this.#seq = Math.max(this.#seq, out.request.cseq.seq);
      if (generation === this.#generation) this.#answered(res);
    });
  }

  /** Removes the binding (expires 0); `done` once the registrar answered or could not. */
  unregister(done: () => void): void {
    this.cancel();
    this.core.send(this.#request(0), (res) => {
      if (res.status >= 200) done();
    });
  }

  /** Stops refreshing (the connection is gone; `register` starts again). */
  cancel(): void {
    this.#generation++;
    this.#refresh?.cancel();
  }

  #answered(res: SipResponse): void {
    const status = res.status;
    if (status < 200) return;
    if (status < 300) {
      // Registered means reachable: the 200 lists our binding (§10.3 step 8), with a life.
      const granted = this.#granted(res);
      if (granted === undefined || granted <= 0) {
        return this.delegate.onFailed(
          new ProtoflyError(
            'PF_ERR_FORBIDDEN',
            `registrar kept no binding for ${this.#aorText()}: its ${status} lists ${granted === undefined ? `${res.contacts.length} contacts, not ours` : 'ours with expires 0'}`,
            { status },
          ),
        );
      }
      this.#backoff.reset();
      // §10.2.1.1: refresh ahead of expiry, by 30 s when the binding is long enough, else halfway.
      const ahead = Math.max(granted - 30, granted / 2);
      this.#refresh = this.timers.after(ahead * 1000, () => this.register());
      return this.delegate.onRegistered(granted);
    }
    if (status === 423) {
      const min = res.headers.first(MIN_EXPIRES);
      if (min !== undefined && min > this.#expires) {
        this.#expires = min;
        return this.register();
      }
    }
    if (status === 401 || status === 407) {
      return this.delegate.onFailed(
        new ProtoflyError(
          'PF_ERR_AUTH',
          `REGISTER of ${this.#aorText()} refused with ${status} ${res.reason} after credentials: wrong password, or guest credentials that expired`,
          { status },
        ),
      );
    }
    if (status === 403 || status === 404 || status === 423) {
      return this.delegate.onFailed(
        new ProtoflyError(
          'PF_ERR_FORBIDDEN',
          `REGISTER of ${this.#aorText()} refused with ${status} ${res.reason}`,
          {
            status,
          },
        ),
      );
    }
    const retry = this.#backoff.next();
    this.delegate.onUnavailable(`REGISTER of ${this.#aorText()} got ${status} ${res.reason}`, retry);
    const generation = this.#generation;
    this.#refresh = this.timers.after(retry, () => {
      if (generation === this.#generation) this.register();
    });
  }

  /**
   * §10.2.4: the expiry of our binding: its Contact's expires, else the Expires header, else
   * what was asked. Undefined when the response does not list our binding.
   */
  #granted(res: SipResponse): number | undefined {
    const instance = this.contact.params.get('+sip.instance');
    const ours = res.contacts.find(
      (c) =>
        (instance !== undefined && c.params.get('+sip.instance') === instance) ||
        ('user' in c.uri && c.uri.user === (this.contact.uri as SipUri).user),
    );
    if (!ours) return undefined;
    const param = ours.params.get('expires');
    if (param !== undefined && param !== null && /^\d+$/.test(param)) return Number(param);
    return res.headers.first(EXPIRES) ?? this.#expires;
  }

  #request(expires: number): SipRequest {
    const h = new Headers();
    const aor = { displayName: undefined, uri: this.aor, params: new Map() };
    h.put(MAX_FORWARDS, [70]);
    h.put(TO, [aor]);
    h.put(FROM, [withTag(aor, this.#fromTag)]);
    h.put(CALL_ID, [this.#callId]);
    h.put(CSEQ, [{ seq: ++this.#seq, method: 'REGISTER' }]);
    h.put(CONTACT, [
      { ...this.contact, params: new Map([...this.contact.params, ['expires', String(expires)]]) },
    ]);
    h.put(EXPIRES, [expires]);
    h.put(SUPPORTED, ['path', 'outbound']);
    const registrar: SipUri = { ...this.aor, user: undefined, params: new Map(), headers: new Map() };
    return new SipRequest('REGISTER', registrar, h);
  }

  #aorText(): string {
    return formatUri(this.aor);
  }
}
