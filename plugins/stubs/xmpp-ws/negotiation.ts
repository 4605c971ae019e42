import { fetchGuestCredentials, isProtoflyError, type SharedSession, type StubContext } from 'protofly/stub';
import type { Config } from './config.js';
import { jidOf, readJid } from './jid.js';
import type { Member } from './member.js';
import { SCRAM_MECHANISMS, ScramClient, toBase64 } from './scram.js';
import * as x from './stanzas.js';
import type { StreamManagement } from './stream-management.js';
import type { Xml } from './xml.js';

/** Where one socket is in RFC 6120's order; `ready` once bound (or resumed), with presence sent. */
type Phase = 'opening' | 'authenticating' | 'restarting' | 'resuming' | 'binding' | 'enabling' | 'ready';

/** What the negotiation needs of the stream. */
export interface NegotiationHost {
  /** Opens a socket, the account to log in as known. */
  open(): void;
  write(tree: Xml): void;
  /** A check, for later, that the socket of now is still the stream's: what comes for one given up is dropped. */
  sameSocket(): () => boolean;
  /** The socket is of no more use: closed, and the stream comes back later. */
  giveUp(why: string): void;
  /** No socket now: the stream connects again later. */
  lost(why: string): void;
  /** Fails for good. */
  fail(detail: string, code?: string): void;
  /** Bound (with presence to send) or resumed: the stream is ready. */
  ready(resumed: boolean): void;
}

/** Random characters for nonces and ids (the sandbox offers `crypto.getRandomValues`). */
function random(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return toBase64(bytes).replace(/[+/=]/g, 'x').slice(0, n);
}

/**
 * Logging in, on each socket, in RFC 6120's order: `<open/>`, SASL SCRAM, `<open/>` again, then
 * resource binding (§7) and XEP-0198 enabled, or a XEP-0198 session resumed instead of binding.
 * A user of another domain logs in as the guest account the domain's guest service gives it
 * (`guestUrl`, core/stub-kit/guest-credentials.ts), asked again on each connection.
 */
export class Negotiation {
  readonly #session: SharedSession<Member>;
  readonly #config: Config;
  readonly #management: StreamManagement;
  readonly #host: NegotiationHost;
  /** The XMPP server's domain: the user's own, or the one it is a guest of. */
  readonly #domain: string;
  /** The account's localpart: the user's name, or its guest account's (`alice~a.example`). */
  #user: string;
  /** A guest's password, from the guest service; a user of the domain has `config.password`. */
  #guestPassword: string | undefined;
  /** The user's own domain, when it is not the server's: it logs in as a guest. */
  readonly #guestOf: string | undefined;
  /** Asked for once per session: receipts for what went before a reconnect come back to it. */
  readonly #resource: string;
  /** Why there is nothing to log in as, if so. */
  readonly #refusal: { readonly detail: string; readonly code: string } | undefined;
  #phase: Phase = 'opening';
  #scram: ScramClient | undefined;
  /** Our full JID, as bound. */
  #jid = '';

  constructor(
    ctx: StubContext,
    session: SharedSession<Member>,
    management: StreamManagement,
    host: NegotiationHost,
  ) {
    this.#session = session;
    this.#config = ctx.config as Config;
    this.#management = management;
    this.#host = host;
    const jid = readJid(jidOf(ctx.identity.address));
    this.#domain = ctx.domain;
    this.#user = jid?.local ?? '';
    this.#resource = `${this.#config.resource}.${random(8)}`;
    this.#guestOf = jid && jid.domain !== ctx.domain ? jid.domain : undefined;
    if (!jid) this.#refusal = { detail: `${ctx.identity.address} has no XMPP address`, code: 'PF_ERR_AUTH' };
    else if (this.#guestOf !== undefined && this.#config.guestUrl === undefined)
      this.#refusal = {
        detail: `${ctx.domain} names no guestUrl, so it admits no users of ${jid.domain}`,
        code: 'PF_ERR_CONFIG',
      };
  }

  /** Bound (or resumed), with presence sent: what is written now goes. */
  get ready(): boolean {
    return this.#phase === 'ready';
  }

  get domain(): string {
    return this.#domain;
  }

  /** The bare JID logged in as. */
  get account(): string {
    return `${this.#user}@${this.#domain}`;
  }

  /** Our full JID, as bound. */
  get jid(): string {
    return this.#jid;
  }

  /** The first connection; with nothing to log in as, failed once the first member joined (and hears it). */
  start(): void {
    const refusal = this.#refusal;
    if (refusal) this.#session.fail(refusal.detail, refusal.code);
    else this.connect();
  }

  /** Connects: a guest asks for its account first (a restarted server, or one it left, has forgotten it). */
  connect(): void {
    this.#phase = 'opening';
    const guestUrl = this.#config.guestUrl;
    if (this.#guestOf === undefined || guestUrl === undefined) return this.#host.open();
    fetchGuestCredentials(this.#session.owner, guestUrl, this.#session, (result) => {
      if (this.#session.failure || this.#session.members.length === 0) return;
      if (!isProtoflyError(result)) return this.#guest(result.username, result.password, result.aor);
      // The service could not answer now: tried again later, as a lost connection is.
      if (result.code === 'PF_ERR_FETCH') return this.#host.lost(result.message);
      this.#host.fail(result.message, result.code);
    });
  }

  /** Logs in as the guest account the service gave, once it is one of this server's. */
  #guest(username: string, password: string, aor: string): void {
    const jid = aor.startsWith('xmpp:') ? readJid(aor.slice(5)) : undefined;
    if (jid?.local !== username || jid.domain !== this.#domain || jid.resource !== undefined)
      return this.#host.fail(
        `the guest service gave ${JSON.stringify(aor)}, not an account here`,
        'PF_ERR_FRAME',
      );
    this.#user = username;
    this.#guestPassword = password;
    this.#host.open();
  }

  /** The socket opened: the stream opens. */
  opened(): void {
    this.#host.write(x.open(this.#domain));
  }

  /** The socket is gone: the next one starts from the beginning. */
  lost(): void {
    this.#phase = 'opening';
    this.#scram = undefined;
  }

  /** Stream features: SASL mechanisms before authentication, binding after. */
  features(mechanisms: readonly string[], bind: boolean, sm: boolean): void {
    if (this.#phase === 'opening') {
      // The strongest both sides allow (SCRAM_MECHANISMS lists them strongest first).
      const chosen = Object.keys(SCRAM_MECHANISMS).find(
        (m) => this.#config.mechanisms.includes(m) && mechanisms.includes(m),
      );
      if (!chosen)
        return this.#host.fail(
          `no SASL mechanism in common (the server offers ${mechanisms.join(', ') || 'none'})`,
          'PF_ERR_AUTH',
        );
      const ctx = this.#session.owner;
      const password = this.#guestPassword ?? this.#config.password ?? ctx.identity.token ?? '';
      this.#scram = new ScramClient(
        SCRAM_MECHANISMS[chosen]!,
        this.#user,
        password,
        random(24),
        this.#config.maxIterations,
      );
      this.#phase = 'authenticating';
      return this.#host.write(x.auth(chosen, this.#scram.first()));
    }
    if (this.#phase !== 'restarting' || !bind) return;
    const resume = this.#management.restart(sm);
    if (resume) {
      // XEP-0198 §5: resumed instead of bound, the session and what the server holds for it kept.
      this.#phase = 'resuming';
      return this.#host.write(resume);
    }
    this.#bind();
  }

  #bind(): void {
    this.#phase = 'binding';
    this.#host.write(x.bindRequest('bind', this.#resource));
  }

  challenge(data: string): void {
    const scram = this.#scram;
    const same = this.#host.sameSocket();
    if (this.#phase !== 'authenticating' || !scram) return;
    scram.final(data).then(
      (reply) => same() && this.#host.write(x.saslResponse(reply)),
      (err: Error) => same() && this.#host.fail(err.message, 'PF_ERR_AUTH'),
    );
  }

  success(data: string): void {
    if (this.#phase !== 'authenticating' || !this.#scram) return;
    try {
      this.#scram.verify(data);
    } catch (err) {
      return this.#host.fail((err as Error).message, 'PF_ERR_AUTH');
    }
    this.#scram = undefined;
    this.#phase = 'restarting';
    this.#host.write(x.open(this.#domain));
  }

  /** A SASL `<failure/>`: a server that is only busy says so; anything else is a verdict on the credentials. */
  failure(condition: string): void {
    if (condition === 'temporary-auth-failure') return this.#host.giveUp('temporary-auth-failure');
    this.#host.fail(`the server refused the log-in: ${condition}`, 'PF_ERR_AUTH');
  }

  /** The answer to our bind request: the full JID the server gave, then XEP-0198 enabled if offered. */
  bound(ok: boolean, jid: string | undefined): void {
    if (this.#phase !== 'binding') return;
    if (!ok || !jid) return this.#host.giveUp('the server refused to bind a resource');
    this.#jid = jid;
    const enable = this.#management.enable();
    if (!enable) return this.#ready(false);
    this.#phase = 'enabling';
    this.#host.write(enable);
  }

  /** XEP-0198 enabled (§3). */
  enabled(id: string | undefined): void {
    if (this.#phase === 'enabling' && this.#management.enabled(id)) this.#ready(false);
  }

  /** Resumed (§5): the server says how much of ours it handled, and the rest goes again. */
  resumed(h: number): void {
    if (this.#phase === 'resuming' && this.#management.resumed(h)) this.#ready(true);
  }

  /** `<failed/>`: to enable (the stream goes on without), or to resume (a new session, after what it handled). */
  managementFailed(h: number | undefined, condition: string): void {
    this.#session.owner.log.info('xmpp-ws: stream management failed', { condition, phase: this.#phase });
    if (this.#phase === 'enabling') {
      this.#management.disable();
      return this.#ready(false);
    }
    if (this.#phase === 'resuming' && this.#management.notResumed(h)) this.#bind();
  }

  #ready(resumed: boolean): void {
    this.#phase = 'ready';
    this.#host.ready(resumed);
  }
}
