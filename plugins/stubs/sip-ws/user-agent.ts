// A little over 400 lines, for one thing: the user agent one identity shares among its
// conversations (transport, registration, dialogs and who gets what), as RFC 3261 §8 has it.
import { parseAddress } from '../../../core/address.js';
import { isProtoflyError } from '../../../core/errors.js';
import type { ConversationBody } from '../../../core/generated/types.js';
import type { Message } from '../../../core/message.js';
import { type StubContext, UNKNOWN, withdrawnId } from '../../../core/stub.js';
import { answer } from '../../../core/stub-kit/answer.js';
import { fetchGuestCredentials } from '../../../core/stub-kit/guest-credentials.js';
import { offer } from '../../../core/stub-kit/offer.js';
import { SessionMember, SharedSession, shared } from '../../../core/stub-kit/shared-session.js';
import { type SipWsSettings, settingsOf } from './config.js';
import type { Dialog } from './dialogs/dialog.js';
import { Credentials } from './digest/credentials.js';
import { percentDecode } from './message/escape.js';
import { isSipUri, type NameAddr, parseUri, type SipRequest, type SipUri } from './message/index.js';
import { Registration } from './registration/registration.js';
import { sipUriOf } from './sessions/addresses.js';
import { Calls } from './sessions/calls.js';
import { Chat } from './sessions/chat.js';
import { Outbox } from './sessions/outbox.js';
import type { Answered, AppRequest, SessionHost } from './sessions/session-host.js';
import { type Timer, TimerQueue } from './timers/timer-queue.js';
import { InviteServerTransaction } from './transactions/invite-server-transaction.js';
import type { ServerTransaction } from './transactions/transaction-layer.js';
import { Transport } from './transport/transport.js';
import { randomToken } from './user-agent-core/identifiers.js';
import { createResponse, reasonPhrase } from './user-agent-core/responses.js';
import { UserAgentCore } from './user-agent-core/user-agent-core.js';

/** Where the user agent lives in `ctx.session`: one per domain and identity. */
const SESSION_KEY = 'sip-ws/user-agent';
/** The methods this user agent takes only within a dialog. */
const IN_DIALOG = new Set(['BYE', 'INFO', 'UPDATE', 'PRACK']);
/** How long the runtime may take to answer what was delivered before the far side hears 408. */
const ANSWER_TIMEOUT_MS = 30_000;
/** How long leaving waits for the registrar to drop the binding. */
const UNREGISTER_WAIT_MS = 2000;

type State = 'connecting' | 'live' | 'disconnected' | 'failed' | 'closed';

/** One stub instance (one conversation's, or the inbox's) as a member of the shared user agent: joins, posts, leaves. */
export class Member extends SessionMember {
  constructor(
    ctx: StubContext,
    readonly ua: UserAgent,
  ) {
    super(ctx);
  }

  /** The peer of this conversation; undefined for the inbox. */
  get peer(): string | undefined {
    return this.ctx.peer;
  }

  post(msg: Message): void {
    this.ua.post(this, msg);
  }

  stop(): Promise<void> {
    return this.ua.leave(this);
  }
}

/**
 * One SIP user agent per domain and identity, shared through `ctx.session` by every
 * conversation (and the inbox) of that identity: one WebSocket, one registration, one
 * transaction layer and every dialog. It speaks for the runtime's user as
 *
 * - a user of this domain: `sip:<name>@<domain>`, with the password from the stub config;
 * - a guest: `sip:<name>~<home domain>@<domain>`, with credentials the domain's guest
 *   service hands out for the user's identity token (core/guest-protocol.ts).
 *
 * Statuses: `connecting` until the REGISTER succeeds, `live`, `disconnected` while the
 * socket is gone (it reconnects and registers again), `failed` when the domain refused the
 * credentials (no retry: the next conversation, after every one has ended, tries afresh).
 */
export class UserAgent implements SessionHost {
  readonly timers: TimerQueue;
  readonly core: UserAgentCore;
  readonly #settings: SipWsSettings;
  /** The members, the timers' host (the oldest conversation's context), the status they report. */
  readonly #session: SharedSession<Member>;
  readonly #transport: Transport;
  readonly #chat = new Chat(this);
  readonly #calls = new Calls(this);
  readonly #pending = new Map<string, { answered: Answered; timer: { cancel(): void } }>();
  readonly #outbox: Outbox<Member>;
  readonly #ids = `sip-${randomToken(8)}`;
  #count = 0;
  #state: State = 'connecting';
  #registration: Registration | undefined;
  /**
   * For a guest, `user://<this domain>/`: the runtime lets a guest's inbox speak for this
   * domain's users only (runtime/carriers.ts), so anyone else is answered 480 at once rather
   * than offered to it and left to the far side's timeout. Undefined for this domain's own user.
   */
  readonly #guestOf: string | undefined;
  /** When a guest's credentials are asked for again. */
  #renewal: Timer | undefined;
  local: NameAddr;
  readonly contact: NameAddr;
  /** RFC 5626 §4.1: one instance id for this user agent's life, across reconnects. */
  readonly #instance = `"<urn:uuid:${crypto.randomUUID()}>"`;

  private constructor(ctx: StubContext) {
    const session = new SharedSession<Member>(ctx, SESSION_KEY);
    this.#session = session;
    this.#settings = settingsOf(ctx.config);
    this.#outbox = new Outbox(this.#settings.maxQueued);
    this.timers = new TimerQueue(session, (err) =>
      session.owner.log.error('sip-ws: a timer failed', { error: String((err as Error)?.message ?? err) }),
    );
    const settings = this.#settings;
    const transport = new Transport(settings, () => session.owner, this.timers, {
      onConnected: () => this.#connected(),
      onMessage: (m) => this.core.receive(m),
      onDisconnected: (detail, delay) => this.#disconnected(detail, delay),
      onRefused: (detail, code) => this.#fail(detail, code),
    });
    this.core = new UserAgentCore(
      transport,
      this.timers,
      settings.t1Ms,
      this.#coreDelegate(),
      () => session.owner.log,
    );
    const contactUri = parseUri(`sip:${randomToken(8)}@${transport.host};transport=ws;ob`);
    this.contact = { displayName: undefined, uri: contactUri, params: new Map() };
    this.local = { displayName: undefined, uri: sipUriOf(ctx.identity.address), params: new Map() };
    const own = `user://${ctx.domain}/`;
    this.#guestOf = ctx.identity.address.startsWith(own) ? undefined : own;
    this.#transport = transport;
    const missing = this.#missing();
    if (missing) this.#fail(missing, 'PF_ERR_CONFIG');
    else transport.connect();
  }

  /** The conversation of `ctx` on its session's user agent, made (and connected) on first use. */
  static join(ctx: StubContext): Member {
    const ua = shared(ctx, SESSION_KEY, () => new UserAgent(ctx));
    const conversation = new Member(ctx, ua);
    ua.#session.join(conversation);
    return conversation;
  }

  // ---- the app's side ----

  /**
   * A message from the runtime for the far side, through `from`. A request waits in the outbox
   * while this user agent is not registered (answered 503 when it failed), and goes once it is.
   * A withdrawal (core/stub.ts) is answered here: 200 when the request it names was held
   * (taken out), 409 when it went to SIP, 404 when it is neither.
   */
  post(from: Member, msg: Message): void {
    if (msg.type === 'response') return this.#answered(msg.id, msg.body.code, msg.body.description);
    const withdrawn = withdrawnId(msg);
    if (withdrawn !== undefined) {
      const code = this.#outbox.withdraw(from, withdrawn);
      const why = { 200: 'withdrawn', 404: 'is not held', 409: 'was sent already' }[code];
      return answer(from.ctx, msg, code, `${withdrawn} ${why}`);
    }
    if (this.#state === 'failed') return answer(from.ctx, msg, 503, this.#session.failure!.detail);
    if (this.#state === 'live') return this.#send(from, msg);
    if (!this.#outbox.hold(from, msg)) {
      const why = `${this.#settings.maxQueued} messages are waiting to register with ${from.ctx.domain} already`;
      answer(from.ctx, msg, 503, why);
    }
  }

  /** Hands the app's request `msg` to SIP; its final response answers it through `from`. */
  #send(from: Member, msg: Message): void {
    const settle = (code: number, description: string | undefined, value?: unknown) => {
      this.#outbox.answered(msg.id);
      // Without a description, the SIP reason phrase: more precise than the class's (488, 405).
      answer(from.ctx, msg, code, description ?? reasonPhrase(code), value);
    };
    const app: AppRequest = {
      id: msg.id,
      peer: msg.to,
      respond: (code, description) => settle(code, description),
      unknown: (code, description) => settle(code, description, UNKNOWN),
    };
    this.#outbox.sending(from, msg);
    const value = (msg.body as { value?: ConversationBody }).value;
    const kind = value?.kind;
    try {
      if (msg.type === 'create' && kind === 'chat')
        return this.#chat.send(app, value as Extract<ConversationBody, { kind: 'chat' }>);
      if (msg.type === 'create' && kind === 'offer')
        return this.#calls.offer(app, value as Extract<ConversationBody, { kind: 'offer' }>);
      if (msg.type === 'update' && value && kind !== 'chat' && kind !== 'offer' && kind !== 'presence') {
        return this.#calls.update(app, value as Parameters<Calls['update']>[1]);
      }
    } catch (err) {
      // A body that passed no schema check (a raw bus message) can fail a SIP writer: answer, never throw.
      return app.respond(400, isProtoflyError(err) ? err.message : String(err));
    }
    app.respond(501, `sip-ws carries chat and calls; not ${msg.type} ${kind ?? ''}`.trim());
  }

  /** A conversation ended; with the last one the binding is removed and the socket closed. */
  async leave(conversation: Member): Promise<void> {
    if (!this.#session.leave(conversation)) return;
    this.#outbox.forget(conversation);
    conversation.report('stopped');
    const conversations = this.#session.members;
    const peer = conversation.peer;
    if (peer !== undefined && !conversations.some((c) => c.peer === peer)) this.#calls.hangUpWith(peer);
    if (conversations.length === 0) await this.#close();
  }

  // ---- the far side's ---

  /** SessionHost: hands a canonical body from `from` to the runtime. */
  deliver(from: string, body: ConversationBody, answered?: Answered): boolean {
    const to = this.#session.owner.identity.address;
    const id = `${this.#ids}-${++this.#count}`;
    const type = body.kind === 'chat' || body.kind === 'offer' ? 'create' : 'update';
    const msg = { id, type, from, to, body: { value: body } } as Message;
    const conversations = this.#session.members;
    const inboxTakes = this.#guestOf === undefined || from.startsWith(this.#guestOf);
    const takers = [
      ...conversations.filter((c) => c.peer === from),
      ...(inboxTakes ? conversations.filter((c) => c.peer === undefined) : []),
    ];
    // Waiting before sending: a runtime may answer within the send itself.
    const timer = answered && this.timers.after(ANSWER_TIMEOUT_MS, () => this.#answered(id, 408));
    if (answered && timer) this.#pending.set(id, { answered, timer });
    for (const c of takers) {
      const outcome = offer(c.ctx, msg);
      if (outcome === 'refused') continue;
      if (outcome === 'busy') this.#answered(id, 503, 'the runtime is busy');
      return true;
    }
    timer?.cancel();
    this.#pending.delete(id);
    return false;
  }

  #answered(id: string, code: number, description?: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.timer.cancel();
    pending.answered(code, description);
  }

  #coreDelegate() {
    return {
      onRequest: (t: ServerTransaction, request: SipRequest, dialog: Dialog | undefined) =>
        this.#request(t, request, dialog),
      onCancel: (invite: InviteServerTransaction) => this.#calls.cancelled(invite),
      onAck: () => {},
    };
  }

  /** §8.2: a new request for this user agent. */
  #request(t: ServerTransaction, request: SipRequest, dialog: Dialog | undefined): void {
    const method = request.method;
    if (method === 'MESSAGE') return this.#chat.receive(t, request);
    if (dialog) return this.#calls.receiveInDialog(t, request, dialog);
    if (method === 'INVITE' && t instanceof InviteServerTransaction) return this.#calls.receive(t, request);
    if (method === 'OPTIONS') return t.respond(createResponse(request, 200));
    // §8.2.1: a method this user agent does not take outside a dialog gets 405; one that only
    // lives in a dialog, here without one, 481 (§15.1.2; RFC 6086 §4.2.2, 3311 §5.2, 3262 §3).
    t.respond(createResponse(request, IN_DIALOG.has(method) ? 481 : 405));
  }

  // ---- connection and registration ----

  #connected(): void {
    this.#setState('connecting', 'registering');
    this.#credentials((credentials) => {
      if (this.#state !== 'connecting') return;
      this.core.credentials = credentials.secret;
      this.local = credentials.local;
      const uri = credentials.local.uri as SipUri;
      if (!this.#registration || this.#registration.aor.user !== uri.user) {
        this.#registration?.cancel();
        const contact = {
          ...this.contact,
          params: new Map([
            ['reg-id', '1'],
            ['+sip.instance', this.#instance],
          ]),
        };
        this.#registration = new Registration(
          this.core,
          this.timers,
          uri,
          contact,
          this.#settings.registerExpires,
          {
            onRegistered: () => this.#setState('live'),
            onFailed: (err) => this.#fail(err.message, err.code),
            onUnavailable: (detail, retryMs) =>
              this.#setState('disconnected', `${detail}; registering again in ${retryMs} ms`),
          },
        );
      }
      this.#registration.register();
    });
  }

  /**
   * The credentials to register with: this domain's own users' from the config; a guest's
   * from the guest service, fetched on every connection (a restarted SIP server forgets them).
   */
  #credentials(done: (c: { secret: Credentials; local: NameAddr }) => void): void {
    const ctx = this.#session.owner;
    const settings = this.#settings;
    const { domain, path } = parseAddress(ctx.identity.address);
    if (domain === ctx.domain) {
      return done({
        secret: new Credentials(percentDecode(path[0]!), settings.password!),
        local: this.local,
      });
    }
    this.#guest(settings.guestUrl!, `${percentDecode(path[0]!)}@${domain}`, done);
  }

  /**
   * A guest's credentials from the guest service; asked again halfway through their life, so
   * that a conversation longer than that keeps its registration (the service renews the same
   * password).
   */
  #guest(
    url: string,
    displayName: string,
    done: (c: { secret: Credentials; local: NameAddr }) => void,
  ): void {
    this.#renewal?.cancel();
    fetchGuestCredentials(this.#session.owner, url, this.#session, (result) => {
      if (this.#state === 'failed' || this.#state === 'closed') return;
      if (isProtoflyError(result)) {
        if (result.code === 'PF_ERR_FETCH') return this.#transportLost(result.message);
        return this.#fail(result.message, result.code);
      }
      let aor: NameAddr['uri'] | undefined;
      try {
        aor = parseUri(result.aor);
      } catch {
        aor = undefined;
      }
      if (!aor || !isSipUri(aor))
        return this.#fail(`guest service gave AOR ${JSON.stringify(result.aor)}`, 'PF_ERR_FRAME');
      this.#renewal = this.timers.after(result.expires * 500, () =>
        this.#guest(url, displayName, (c) => {
          this.core.credentials = c.secret;
        }),
      );
      done({
        secret: new Credentials(result.username, result.password),
        local: { displayName, uri: aor, params: new Map() },
      });
    });
  }

  /** What the config lacks to register the runtime's user, if anything. */
  #missing(): string | undefined {
    const ctx = this.#session.owner;
    const { domain, path } = parseAddress(ctx.identity.address);
    if (this.#settings.url === '') return 'ctx.config has no url';
    if (domain === ctx.domain && this.#settings.password === undefined) {
      return `no password for sip:${percentDecode(path[0]!)}@${domain} in the stub config`;
    }
    if (domain !== ctx.domain && this.#settings.guestUrl === undefined) {
      return `${ctx.domain} names no guestUrl, so it admits no users of ${domain}`;
    }
    return undefined;
  }

  /** The guest service could not answer now: like a lost connection, try the whole again later. */
  #transportLost(detail: string): void {
    this.#setState('disconnected', detail);
    this.timers.after(this.#settings.reconnectDelayMs, () => {
      if (this.#state === 'disconnected' && this.#transport.connected) this.#connected();
    });
  }

  #disconnected(detail: string, delayMs: number): void {
    this.core.abort();
    this.#registration?.cancel();
    this.#renewal?.cancel();
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#setState('disconnected', `${detail}; reconnecting in ${delayMs} ms`);
  }

  /**
   * Fails for good: every conversation reports `failed` with `detail`, and `code` when a stub may
   * give it (the far side's verdict; see core/stub-kit/shared-session.ts).
   */
  #fail(detail: string, code?: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'failed';
    this.#session.fail(detail, code, () => {
      this.#registration?.cancel();
      this.#renewal?.cancel();
      this.#transport.close();
      this.core.abort();
      // Never sent: not delivered.
      for (const { from, msg } of this.#outbox.drain()) answer(from.ctx, msg, 503, detail);
    });
  }

  #setState(state: 'connecting' | 'live' | 'disconnected', detail?: string): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = state;
    this.#session.broadcast(state, detail);
    // Registered: what waited goes, in order.
    while (this.#state === 'live') {
      const held = this.#outbox.next();
      if (!held) return;
      this.#send(held.from, held.msg);
    }
  }

  async #close(): Promise<void> {
    const registration = this.#registration;
    if (this.#state === 'live' && registration) {
      await new Promise<void>((resolve) => {
        registration.unregister(resolve);
        this.timers.after(UNREGISTER_WAIT_MS, resolve);
      });
    }
    this.#state = 'closed';
    this.#calls.hangUpWith();
    this.#transport.close();
    this.core.abort();
    this.timers.clear();
    for (const p of this.#pending.values()) p.timer.cancel();
    this.#pending.clear();
    this.#outbox.drain();
    this.#session.close();
  }
}
