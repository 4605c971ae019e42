// A little over 400 lines, for one thing: the app's façade. Versions and swaps are the carriers'
// (carriers.ts), the inbox is inbox.ts; what is left is the conversations and their routing,
// which register, conversation() and close read and end together.
import { formatAddress, parseAddress } from '../core/address.js';
import { asProtoflyError, ProtoflyError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import type { SandboxHost } from '../core/host.js';
import { Code, type Message, type ResponseMessage, request, response } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import { WITHDRAW } from '../core/stub.js';
import { Bus } from './bus.js';
import { Carriers, type UpdateEvent, type UpdatePolicy, type VersionEvent } from './carriers.js';
import { type Carrier, Conversation, carrierOf } from './conversation.js';
import { Directory, directoryAddress } from './directory.js';
import { Inbox, type InboxEvent } from './inbox.js';
import type { Loader } from './loader.js';
import { type Activation, ConversationScope, type ScopeInit } from './scope.js';
import type { UpdateWatcherOptions } from './updates.js';

export type { UpdateEvent, UpdatePolicy, VersionEvent } from './carriers.js';
export type { InboxEvent } from './inbox.js';

/** What {@link Runtime.register} is asked to do besides registering at the home domain. */
export interface RegisterOptions {
  /**
   * Carrier domains where this user is a guest (no account of their own: a SIP domain admits
   * `alice~a.example` on a token from a.example, see plugins/stubs/sip-ws): the runtime keeps an
   * inbox at each, so that any user there may write or call this user first. Each stays
   * registered, like the home inbox, until the runtime closes; naming one again is a no-op.
   */
  readonly guestAt?: readonly string[];
}

/** Who the runtime's user is, and how they prove it to a carrier domain. */
export interface RuntimeIdentity {
  /** `user://<home-domain>/<name>`. */
  readonly address: string;
  /** A token for the given carrier domain (the audience), issued by the home domain. */
  token?(audience: string): Promise<string>;
}

export interface RuntimeOptions {
  readonly identity: RuntimeIdentity;
  readonly loader: Loader;
  readonly host: SandboxHost;
  /** Stub configuration per carrier domain, over the descriptor's defaults. */
  readonly stubConfig?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly bus?: Bus;
  /**
   * How long a new stub instance may take to go live (reachable at its domain, core/stub.ts)
   * before conversation() or register() gives it up with `PF_ERR_TIMEOUT`: the runtime's bound,
   * whatever the stub's descriptor says. Default 10 s.
   */
  readonly liveTimeoutMs?: number;
  /** Outbound messages held for an instance that is not there yet (or during a swap). Default 1000. */
  readonly holdLimit?: number;
  /** The update policy per carrier domain; `'*'` for the others. Default `new-conversations`. */
  readonly updates?: Readonly<Record<string, UpdatePolicy>>;
  /**
   * How long a live swap may take, from the snapshot to the new instance live, before it is
   * rolled back. Default 2000 ms: under the bus's request time-out, so that requests held
   * during a swap that is rolled back still get their answer.
   */
  readonly swapTimeoutMs?: number;
  /** How the runtime listens for new versions (polling interval, retries). */
  readonly watch?: Omit<UpdateWatcherOptions, 'catalogue'>;
}

export interface RuntimeEvents {
  /** A peer opened a conversation. */
  conversation(conversation: Conversation): void;
  /** Which version carries which conversation: when it starts, and when a swap moves it (or fails to). */
  version(event: VersionEvent): void;
  /** A domain's new stub version was taken (or refused). */
  update(event: UpdateEvent): void;
  /** A superseded version runs no instance any more and was unloaded from the sandbox. */
  unload(carrier: Carrier): void;
  /**
   * The inbox's stub instance failed after it was live (its worker died, e.g. brought down by
   * another instance; the far side dropped it): `lost`, then `restored` once live again,
   * retried with back-off; `refused` when an attempt's activation threw (the stub fails on its
   * own): register() must be called again. A failure before the first `live` is not told here:
   * register() rejects with it.
   */
  inbox(event: InboxEvent): void;
  /** Something went wrong that belongs to no caller: a stub broke a rule, a message could not be routed. */
  error(err: ProtoflyError): void;
}

/**
 * The runtime, the app's façade: opens conversations with peers in any domain by loading that
 * domain's stub on the fly, and takes the conversations peers open (the inbox, inbox.ts). Which
 * version of a domain's stub runs, and moving to new ones, is its carriers' (carriers.ts); what
 * it keeps is the conversations and the routing of their messages. Browser-safe: the sandbox
 * host, the loader's store and the identity's token source are handed in.
 */
export class Runtime extends Emitter<RuntimeEvents> {
  readonly bus: Bus;
  readonly identity: RuntimeIdentity;
  readonly #liveTimeoutMs: number;
  readonly #holdLimit: number;
  readonly #conversations = new Map<string, Conversation>();
  readonly #scopes = new Map<string, ConversationScope>();
  readonly #opening = new Map<string, Promise<Conversation>>();
  readonly #carriers: Carriers;
  /** The inboxes by carrier domain: the home domain's, and those where the user is a guest. */
  readonly #inboxes = new Map<string, Inbox>();
  readonly #home: string;
  readonly #onListenerError: (err: unknown) => void;
  readonly #unlisten: () => void;
  #closed = false;

  constructor(options: RuntimeOptions) {
    super((err) => this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')));
    const onListenerError = (err: unknown) => this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX'));
    this.identity = options.identity;
    this.#liveTimeoutMs = options.liveTimeoutMs ?? 10_000;
    this.#holdLimit = options.holdLimit ?? 1000;
    this.bus = options.bus ?? new Bus({ onError: (err) => this.emit('error', err) });
    this.#home = parseAddress(this.identity.address).domain;
    this.#unlisten = this.bus.listen(this.identity.address, (msg) => this.#toApp(msg));
    const carriers = new Carriers(
      options,
      {
        bus: this.bus,
        fromStub: (instance, scope, msg) => this.#fromStub(instance, scope, msg),
        scopes: () => this.#running(),
      },
      onListenerError,
    );
    carriers.on('version', (event) => this.#moved(event));
    carriers.on('update', (event) => this.emit('update', event));
    carriers.on('unload', (carrier) => this.emit('unload', carrier));
    carriers.on('error', (err) => this.emit('error', err));
    this.#carriers = carriers;
    this.#onListenerError = onListenerError;
  }

  /** The conversations open now, by peer. */
  get conversations(): ReadonlyMap<string, Conversation> {
    return this.#conversations;
  }

  /** The update policy for a carrier domain. */
  policy(domain: string): UpdatePolicy {
    return this.#carriers.policy(domain);
  }

  /**
   * Opens (or returns the open) conversation with `peer`: loads the peer domain's stub through
   * the loader (verified), activates it in the sandbox, and resolves once it is live: reachable
   * at the peer's domain (core/stub.ts).
   *
   * @throws ProtoflyError from the loader (any verification refusal), `PF_ERR_CONVERSATION`
   *   when the stub lacks a capability, the stub's own code when it fails first (`PF_ERR_AUTH`:
   *   its credentials were refused), `PF_ERR_TIMEOUT` when it is not live within
   *   `liveTimeoutMs`, `PF_ERR_SANDBOX` (it threw, or failed without a code).
   */
  conversation(peer: string, options: { capabilities?: readonly string[] } = {}): Promise<Conversation> {
    return this.#conversation(peer, options.capabilities ?? []);
  }

  /**
   * The address book of `domain` (the home domain's by default), searched through the domain's
   * messaging node: `await runtime.directory().search('bo')`. Its requests travel on a
   * conversation with the node's directory (`domain://msg-node.<domain>/directory`, in
   * {@link conversations}), carried by `domain`'s stub. A node answers its own domain's users.
   *
   * @throws ProtoflyError `PF_ERR_ADDRESS` for a domain that is no domain name.
   */
  directory(domain: string = this.#home): Directory {
    const address = directoryAddress(domain);
    parseAddress(address);
    return new Directory(domain, () => this.#conversation(address, [], domain));
  }

  /**
   * The open (or opening) conversation with `peer`, else one opened, carried by the stub of
   * `carrier` (default: the peer's domain).
   */
  #conversation(peer: string, capabilities: readonly string[], carrier?: string): Promise<Conversation> {
    const open = this.#conversations.get(peer) ?? this.#opening.get(peer);
    if (open) return Promise.resolve(open);
    const opening = this.#open(peer, capabilities, carrier).finally(() => this.#opening.delete(peer));
    this.#opening.set(peer, opening);
    return opening;
  }

  /**
   * Connects to the home domain with its stub so that peers can open conversations with this
   * user; they arrive as `conversation` events. Resolves once the stub is live: reachable at
   * the home domain (core/stub.ts; for SIP, the registrar's 200 lists our binding), so a peer
   * may write at once. Once the inbox's instance failed, calling it again registers anew; when
   * it failed after it was live for a reason not its own code's, the runtime does so itself,
   * with back-off (see {@link RuntimeEvents.inbox}).
   *
   * With `guestAt`, it also keeps an inbox at each carrier domain named where the user is a
   * guest, and resolves once every one is live:
   *
   * ```ts
   * await runtime.register({ guestAt: ['c.example'] });
   * // any SIP user of c.example may now write or call sip:alice~a.example@c.example first
   * ```
   *
   * A guest inbox opens conversations only for that domain's own users (it cannot pass for
   * another domain's). The runtime's close ends every inbox; for SIP the binding goes
   * (REGISTER, expires 0), and a runtime that vanishes without closing is dropped by its
   * domain when the registration expires (sip-ws `registerExpires`, 600 s by default).
   * Inboxes are independent: when one fails, the others stay registered, and calling again
   * retries only what is not.
   *
   * @throws ProtoflyError as {@link conversation}: the stub's own code when it fails before it
   *   is live (`PF_ERR_AUTH`: the domain refused the credentials, the message says what),
   *   `PF_ERR_TIMEOUT` past `liveTimeoutMs`, `PF_ERR_SANDBOX`, `PF_ERR_CLOSED`,
   *   `PF_ERR_ADDRESS` for a `guestAt` entry that is no domain name (then nothing starts); the
   *   failure is the caller's then, not an `error` event.
   */
  register(options: RegisterOptions = {}): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ProtoflyError('PF_ERR_CLOSED', 'the runtime is closed; nothing registered'));
    }
    const guestAt: unknown = options.guestAt ?? [];
    if (!Array.isArray(guestAt) || guestAt.some((d) => typeof d !== 'string')) {
      return Promise.reject(
        new ProtoflyError('PF_ERR_ADDRESS', 'register({ guestAt }) takes an array of domain names', {
          guestAt,
        }),
      );
    }
    const domains = new Set<string>([this.#home, ...guestAt]);
    try {
      // Checked before any inbox starts: a bad name registers nothing.
      for (const domain of domains) formatAddress({ scheme: 'domain', domain, path: [] });
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.all([...domains].map((domain) => this.#inbox(domain).register())).then(() => undefined);
  }

  /**
   * A failure of a part the runtime was built with that belongs to no caller (its package
   * cache could not be written): told as an `error` event; the runtime goes on.
   *
   * @internal for the parts a runtime is assembled from (entry/node-runtime.ts)
   */
  fault(err: unknown): void {
    this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX'));
  }

  /** Ends every conversation, the inbox, and the watching of catalogues. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const inbox of this.#inboxes.values()) inbox.close();
    this.#carriers.close();
    await Promise.allSettled([...this.#conversations.values()].map((c) => c.close()));
    await Promise.all([...this.#inboxes.values()].map((inbox) => inbox.dispose()));
    this.#unlisten();
  }

  async #open(peer: string, capabilities: readonly string[], carrier?: string): Promise<Conversation> {
    const { pkg, token } = await this.#carriers.prepare(carrier ?? parseAddress(peer).domain);
    const d = pkg.descriptor;
    const missing = capabilities.filter((c) => !(d.capabilities as readonly string[]).includes(c));
    if (missing.length > 0) {
      throw new ProtoflyError(
        'PF_ERR_CONVERSATION',
        `${d.domain}'s stub ${d.name}@${d.version} offers ${d.capabilities.join(', ')}, not ${missing.join(', ')}`,
        { missing },
      );
    }
    const conversation = this.#begin(peer, pkg, false, token);
    try {
      await this.#scopes.get(peer)!.live(this.#liveTimeoutMs);
    } catch (err) {
      await conversation.close();
      throw err;
    }
    return conversation;
  }

  /** The scopes that run an instance, the inbox's first. */
  *#running(): Iterable<ConversationScope> {
    for (const { scope } of this.#inboxes.values()) if (scope) yield scope;
    yield* this.#scopes.values();
  }

  /** The inbox at `domain`, made on first use. */
  #inbox(domain: string): Inbox {
    let inbox = this.#inboxes.get(domain);
    if (inbox) return inbox;
    inbox = new Inbox(
      domain,
      {
        carriers: this.#carriers,
        liveTimeoutMs: this.#liveTimeoutMs,
        scopeInit: (onStatus) => this.#scopeInit(undefined, onStatus),
      },
      this.#onListenerError,
    );
    inbox.on('inbox', (event) => this.emit('inbox', event));
    inbox.on('version', (event) => this.emit('version', event));
    inbox.on('error', (err) => this.emit('error', err));
    this.#inboxes.set(domain, inbox);
    return inbox;
  }

  /** A live swap moved a conversation (or the inbox), or was rolled back: its conversation is told. */
  #moved(event: VersionEvent): void {
    const conversation = event.peer === undefined ? undefined : this.#conversations.get(event.peer);
    if (event.change === 'swap') conversation?.moveTo(event.carrier);
    this.emit('version', event);
    if (event.change !== 'rollback') return;
    if (conversation) conversation.fail(event.error!);
    else this.emit('error', event.error!);
  }

  /** What a scope needs from the runtime; `peer` undefined for the inbox. */
  #scopeInit(
    peer: string | undefined,
    onStatus: ScopeInit['onStatus'],
    conversation?: Conversation,
  ): ScopeInit {
    return {
      bus: this.bus,
      ...(peer === undefined ? {} : { peer }),
      holdLimit: this.#holdLimit,
      onStatus,
      onError: (err) => (conversation ? conversation.fail(err) : this.emit('error', err)),
      stop: (instance) => this.#carriers.stop(instance),
    };
  }

  /**
   * Creates a conversation and its scope, and starts its stub instance (not waiting for it),
   * with `token` when one was asked already.
   */
  #begin(
    peer: string,
    pkg: StubPackage,
    incoming: boolean,
    token?: Promise<string | undefined>,
  ): Conversation {
    let scope: ConversationScope | undefined;
    const conversation = new Conversation(peer, this.identity.address, carrierOf(pkg.descriptor), incoming, {
      send: (msg) => this.bus.send(msg),
      withdraw: (msg) => this.#withdraw(scope!, msg),
      close: async () => {
        this.#conversations.delete(peer);
        this.#scopes.delete(peer);
        await scope!.dispose();
      },
    });
    scope = new ConversationScope(
      this.#scopeInit(
        peer,
        (s, detail) => {
          conversation.setStatus(s, detail);
          if (s === 'live' && scope) this.#carriers.resume(scope);
        },
        conversation,
      ),
    );
    this.#conversations.set(peer, conversation);
    this.#scopes.set(peer, scope);
    const instance = this.#carriers.start(pkg, scope, undefined, token);
    scope.current = instance;
    instance.started.then(
      (handle) => scope.attach(instance, handle),
      (err: unknown) => {
        conversation.fail(asProtoflyError(err, 'PF_ERR_SANDBOX'));
        conversation.setStatus('failed', asProtoflyError(err, 'PF_ERR_SANDBOX').message);
      },
    );
    this.emit('version', { peer, carrier: carrierOf(pkg.descriptor), change: 'start' });
    return conversation;
  }

  /**
   * A message a stub instance sends into the runtime. An inbox message from a new peer opens
   * a conversation; one that came through the version a swap is bringing up waits for the
   * swap (see swap.ts); the rest goes to the bus unless another version delivered it already.
   */
  #fromStub(instance: Activation, scope: ConversationScope, msg: Message): void {
    const d = instance.pkg.descriptor;
    const peer = scope.peer;
    const report = (err: ProtoflyError) => this.#carriers.report(scope, instance, err);
    if (msg.to !== this.identity.address || msg.from === this.identity.address) {
      return report(
        new ProtoflyError(
          'PF_ERR_SPOOF',
          `stub ${d.domain}/${d.name} sent ${msg.type} ${msg.id} from ${msg.from} to ${msg.to}; it may only send from ${peer ?? 'a peer'} to ${this.identity.address}`,
          { from: msg.from, to: msg.to },
        ),
      );
    }
    // The answer to a conversation's request comes through that conversation's stub: the inbox
    // may speak for any peer, so it may not settle what another instance carries.
    if (peer === undefined && msg.type === 'response' && this.#scopes.has(msg.from)) {
      return report(
        new ProtoflyError(
          'PF_ERR_SPOOF',
          `the inbox stub ${d.domain}/${d.name} answered ${msg.id} for ${msg.from}, whose conversation another instance carries`,
          { from: msg.from, id: msg.id },
        ),
      );
    }
    if (peer === undefined && msg.type !== 'response' && !this.#conversations.has(msg.from)) {
      this.emit(
        'conversation',
        this.#begin(msg.from, this.#carriers.current(d.domain) ?? instance.pkg, true),
      );
    }
    if (this.#scopes.get(msg.from)?.park(instance.pkg, msg)) return;
    this.#carriers.deliver(instance.pkg, msg, report);
  }

  /**
   * Asks for a conversation's request to be withdrawn: taken out of the scope's hold if it is
   * there, else the stub is asked (see {@link WITHDRAW}). True when it will not be delivered.
   */
  async #withdraw(scope: ConversationScope, msg: Message): Promise<boolean> {
    if (scope.withdraw(msg.id)) return true;
    if (scope.disposed) return false;
    const res = await this.bus.request(
      request('execute', msg.from, msg.to, { method: WITHDRAW, params: { id: msg.id } }),
    );
    return res.body.code >= 200 && res.body.code < 300;
  }

  /** A message for this runtime's user, from a stub: to its conversation, answered 200, 400 or 503. */
  #toApp(msg: Message): void {
    if (msg.type === 'response') {
      if (this.#conversations.get(msg.from)?.settle(msg as ResponseMessage)) return;
      // A response nobody waits for any more (its request settled): nothing to answer.
      return this.emit(
        'error',
        new ProtoflyError('PF_ERR_NO_ROUTE', `late response ${msg.id} from ${msg.from}`),
      );
    }
    const conversation = this.#conversations.get(msg.from);
    const code = conversation ? conversation.deliver(msg) : Code.NOT_FOUND;
    this.bus.send(response(msg, code));
  }
}
