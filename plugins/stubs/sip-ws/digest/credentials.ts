import {
  AUTHORIZATION,
  formatUri,
  PROXY_AUTHENTICATE,
  PROXY_AUTHORIZATION,
  type SipRequest,
  type SipResponse,
  WWW_AUTHENTICATE,
} from '../message/index.js';
import { newCnonce } from '../user-agent-core/identifiers.js';
import { answer, type Challenge, pickChallenge } from './digest.js';

/** A challenge being answered: its client nonce, and how many requests it signed (nc). */
interface Answering {
  readonly challenge: Challenge;
  readonly cnonce: string;
  count: number;
}

/**
 * RFC 3261 §22.2-22.3: a user's digest credentials and the last challenge of each kind.
 *
 * A registrar's challenge (401, WWW-Authenticate) is answered on every REGISTER after it, a
 * proxy's (407, Proxy-Authenticate) on every other request outside a dialog, each reusing the
 * nonce with a growing nonce count (RFC 7616 §3.4): after the first, a MESSAGE goes out with
 * its credentials and needs one transaction, not two. Credentials never go where no challenge
 * asked for them (an Authorization on a MESSAGE would travel on to the far user).
 */
export class Credentials {
  readonly #answering: { www?: Answering; proxy?: Answering } = {};

  constructor(
    readonly username: string,
    readonly password: string,
  ) {}

  /**
   * Adds the credentials `request` needs, from the challenges seen so far: to a request
   * outside a dialog always, to one within a dialog only when `challenged` (its own last try
   * was), since the proxy that record-routed the dialog does not ask again.
   */
  authorize(request: SipRequest, challenged: boolean): void {
    if (!challenged && request.to.params.has('tag')) return;
    const kind = request.method === 'REGISTER' ? 'www' : 'proxy';
    const a = this.#answering[kind];
    if (!a) return;
    a.count++;
    const value = answer(a.challenge, {
      username: this.username,
      password: this.password,
      method: request.method,
      uri: formatUri(request.uri),
      cnonce: a.cnonce,
      count: a.count,
    });
    request.headers.put(kind === 'www' ? AUTHORIZATION : PROXY_AUTHORIZATION, [value]);
  }

  /**
   * Learns the challenge of a 401 or 407 (§22.2, §22.3), for the next {@link authorize}.
   * Returns it (its `stale` says whether the refused credentials were right but old).
   *
   * @throws ProtoflyError `PF_ERR_AUTH` when no challenge offered can be answered.
   */
  learn(response: SipResponse): Challenge {
    const proxy = response.status === 407;
    const challenge = pickChallenge(response.headers.all(proxy ? PROXY_AUTHENTICATE : WWW_AUTHENTICATE));
    this.#answering[proxy ? 'proxy' : 'www'] = { challenge, cnonce: newCnonce(), count: 0 };
    return challenge;
  }
}
