import 'reflect-metadata';
import {
  type DependencyContainer,
  type Disposable,
  inject,
  injectable,
  container as rootContainer,
} from 'tsyringe';
import { parseAddress } from './address.js';
import { Bus } from './bus.js';
import { pluginConfig } from './config.js';
import { Conversation, carrierOf } from './conversation.js';
import { isProtoflyError, ProtoflyError } from './errors.js';
import { Emitter } from './events.js';
import type { StubDescriptor } from './generated/types.js';
import type { SandboxHost, StubHandle } from './host.js';
import type { Loader } from './loader.js';
import { Code, type Message, response } from './message.js';
import type { VerifiedPackage } from './plugin.js';
import type { StubStatus } from './stub.js';

/**
 * The runtime: opens conversations with peers in any domain by loading that domain's stub
 * on the fly, and takes the conversations peers open. Browser-safe: the sandbox host, the
 * loader's store and the identity's token source are handed in.
 */

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
  /** How long a new stub instance may take to go live. Default 10 s. */
  readonly liveTimeoutMs?: number;
  /** Parent of every conversation's container. Default: a child of tsyringe's root. */
  readonly container?: DependencyContainer;
  /** Outbound messages held for an instance that is not there yet. Default 1000. */
  readonly holdLimit?: number;
}

export interface RuntimeEvents {
  /** A peer opened a conversation. */
  conversation(conversation: Conversation): void;
  /** Something went wrong that belongs to no caller: a stub broke a rule, a message could not be routed. */
  error(err: ProtoflyError): void;
}

/** What a conversation's scope is built from. */
const SCOPE_INIT = Symbol.for('protofly.runtime.scope-init');
interface ScopeInit {
  readonly bus: Bus;
  readonly peer: string;
  readonly holdLimit: number;
  readonly onError: (err: ProtoflyError) => void;
}

/**
 * A conversation's resources, resolved in its own child container and disposed with it: the
 * bus route to the peer, and the stub instance behind it. Messages for the peer are held
 * (bounded) until the instance is there.
 */
@injectable()
class ConversationScope implements Disposable {
  instance: StubHandle | undefined;
  readonly #held: Message[] = [];
  readonly #unlisten: () => void;

  constructor(@inject(SCOPE_INIT) private readonly init: ScopeInit) {
    this.#unlisten = init.bus.listen(init.peer, (msg) => this.#toStub(msg));
  }

  attach(instance: StubHandle): void {
    this.instance = instance;
    for (const msg of this.#held.splice(0)) this.#toStub(msg);
  }

  #toStub(msg: Message): void {
    if (this.instance) return this.instance.postMessage(msg);
    if (this.#held.length < this.init.holdLimit) {
      this.#held.push(msg);
      return;
    }
    const err = new ProtoflyError(
      'PF_ERR_FLOOD',
      `${this.#held.length} messages held for ${this.init.peer}; ${msg.id} refused`,
    );
    if (msg.type === 'response') return this.init.onError(err);
    this.init.bus.send(response(msg, Code.UNAVAILABLE, err.message));
  }

  async dispose(): Promise<void> {
    this.#unlisten();
    await this.instance?.stop();
  }
}

export class Runtime extends Emitter<RuntimeEvents> {
  readonly bus: Bus;
  readonly identity: RuntimeIdentity;
  readonly #loader: Loader;
  readonly #host: SandboxHost;
  readonly #stubConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly #liveTimeoutMs: number;
  readonly #container: DependencyContainer;
  readonly #holdLimit: number;
  readonly #conversations = new Map<string, Conversation>();
  readonly #opening = new Map<string, Promise<Conversation>>();
  readonly #unlisten: () => void;
  #inbox: Promise<StubHandle> | undefined;
  #closed = false;

  constructor(options: RuntimeOptions) {
    super((err) => this.emit('error', asError(err)));
    this.identity = options.identity;
    this.#loader = options.loader;
    this.#host = options.host;
    this.#stubConfig = options.stubConfig ?? {};
    this.#liveTimeoutMs = options.liveTimeoutMs ?? 10_000;
    this.#container = options.container ?? rootContainer.createChildContainer();
    this.#holdLimit = options.holdLimit ?? 1000;
    this.bus = options.bus ?? new Bus({ onError: (err) => this.emit('error', err) });
    parseAddress(this.identity.address);
    this.#unlisten = this.bus.listen(this.identity.address, (msg) => this.#toApp(msg));
  }

  /** The conversations open now, by peer. */
  get conversations(): ReadonlyMap<string, Conversation> {
    return this.#conversations;
  }

  /**
   * Opens (or returns the open) conversation with `peer`: loads the peer domain's stub through
   * the loader (verified), activates it in the sandbox, and resolves once it is live.
   *
   * @throws ProtoflyError from the loader (any verification refusal), `PF_ERR_CONVERSATION`
   *   when the stub lacks a capability or does not go live in time, `PF_ERR_SANDBOX`.
   */
  conversation(peer: string, options: { capabilities?: readonly string[] } = {}): Promise<Conversation> {
    const open = this.#conversations.get(peer) ?? this.#opening.get(peer);
    if (open) return Promise.resolve(open);
    const opening = this.#open(peer, options.capabilities ?? []).finally(() => this.#opening.delete(peer));
    this.#opening.set(peer, opening);
    return opening;
  }

  /**
   * Connects to the home domain with its stub so that peers can open conversations with this
   * user; they arrive as `conversation` events.
   */
  register(): Promise<void> {
    if (!this.#inbox) {
      const home = parseAddress(this.identity.address).domain;
      this.#inbox = this.#loader.load({ domain: home }).then(async (pkg) => {
        const inbox = await this.#instantiate(
          pkg as VerifiedPackage<StubDescriptor>,
          undefined,
          (s, detail) => {
            if (s === 'failed')
              this.emit(
                'error',
                new ProtoflyError('PF_ERR_SANDBOX', `inbox stub of ${home} failed: ${detail}`),
              );
          },
        );
        return inbox;
      });
      this.#inbox.catch(() => {
        this.#inbox = undefined;
      });
    }
    return this.#inbox.then(() => {});
  }

  /** Ends every conversation and the inbox. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#conversations.values()].map((c) => c.close()));
    const inbox = await this.#inbox?.catch(() => undefined);
    await inbox?.stop();
    this.#unlisten();
  }

  async #open(peer: string, capabilities: readonly string[]): Promise<Conversation> {
    const carrierDomain = parseAddress(peer).domain;
    const pkg = (await this.#loader.load({ domain: carrierDomain })) as VerifiedPackage<StubDescriptor>;
    const d = pkg.descriptor;
    const missing = capabilities.filter((c) => !(d.capabilities as readonly string[]).includes(c));
    if (missing.length > 0) {
      throw new ProtoflyError(
        'PF_ERR_CONVERSATION',
        `${d.domain}'s stub ${d.name}@${d.version} offers ${d.capabilities.join(', ')}, not ${missing.join(', ')}`,
        { missing },
      );
    }
    const conversation = this.#begin(peer, pkg, false);
    try {
      await this.#live(conversation);
    } catch (err) {
      await conversation.close();
      throw err;
    }
    return conversation;
  }

  /** Creates a conversation and its scope, and starts its stub instance (not waiting for it). */
  #begin(peer: string, pkg: VerifiedPackage<StubDescriptor>, incoming: boolean): Conversation {
    const child = this.#container.createChildContainer();
    child.registerInstance<ScopeInit>(SCOPE_INIT, {
      bus: this.bus,
      peer,
      holdLimit: this.#holdLimit,
      onError: (err) => conversation.fail(err),
    });
    const scope = child.resolve(ConversationScope);
    const conversation = new Conversation(peer, this.identity.address, carrierOf(pkg.descriptor), incoming, {
      request: (msg) => this.bus.request(msg),
      close: async () => {
        this.#conversations.delete(peer);
        await child.dispose();
      },
    });
    this.#conversations.set(peer, conversation);
    this.#instantiate(pkg, peer, (s, detail) => conversation.setStatus(s, detail), conversation)
      .then((instance) => {
        if (this.#conversations.get(peer) === conversation) scope.attach(instance);
        else void instance.stop();
      })
      .catch((err: unknown) => {
        conversation.fail(asError(err));
        conversation.setStatus('failed', asError(err).message);
      });
    return conversation;
  }

  /**
   * Activates a stub instance for `peer` (or the inbox, for no peer). The host lets it send only
   * from the peer (the inbox: from any user or hyperty); the runtime adds that it may only send
   * to this runtime's user, and that the inbox may not speak as this user.
   */
  async #instantiate(
    pkg: VerifiedPackage<StubDescriptor>,
    peer: string | undefined,
    onStatus: (status: StubStatus, detail?: string) => void,
    conversation?: Conversation,
  ): Promise<StubHandle> {
    const d = pkg.descriptor;
    const token = await this.identity.token?.(d.domain);
    const report = (err: ProtoflyError) => (conversation ? conversation.fail(err) : this.emit('error', err));
    return this.#host.instantiate(pkg, {
      id: `${d.domain}/${d.name}→${peer ?? 'inbox'}`,
      identity:
        token === undefined ? { address: this.identity.address } : { address: this.identity.address, token },
      config: pluginConfig(d, this.#stubConfig[d.domain]),
      from: peer === undefined ? ['user://', 'hyperty://'] : [peer],
      delegate: {
        onStatus: (status, detail, error) => {
          if (error) report(error);
          onStatus(status, detail);
        },
        onRefused: report,
      },
      send: (msg) => {
        if (msg.to !== this.identity.address || msg.from === this.identity.address) {
          return report(
            new ProtoflyError(
              'PF_ERR_SPOOF',
              `stub ${d.domain}/${d.name} sent ${msg.type} ${msg.id} from ${msg.from} to ${msg.to}; it may only send from ${peer ?? 'a peer'} to ${this.identity.address}`,
              { from: msg.from, to: msg.to },
            ),
          );
        }
        if (peer === undefined && msg.type !== 'response' && !this.#conversations.has(msg.from)) {
          this.emit('conversation', this.#begin(msg.from, pkg, true));
        }
        try {
          this.bus.send(msg);
        } catch (err) {
          report(asError(err));
        }
      },
    });
  }

  /** Resolves when the conversation's stub is live; rejects when it fails or takes too long. */
  #live(conversation: Conversation): Promise<void> {
    if (conversation.status === 'live') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(
          new ProtoflyError(
            'PF_ERR_CONVERSATION',
            `the stub for ${conversation.peer} did not go live within ${this.#liveTimeoutMs} ms (status ${conversation.status})`,
          ),
        );
      }, this.#liveTimeoutMs);
      const offError = conversation.on('error', (err) => {
        done();
        reject(err);
      });
      const offStatus = conversation.on('status', (status, detail) => {
        if (status === 'live') {
          done();
          resolve();
        } else if (status === 'failed' || status === 'stopped') {
          done();
          reject(
            new ProtoflyError(
              'PF_ERR_CONVERSATION',
              `the stub for ${conversation.peer} ${status}: ${detail ?? ''}`,
            ),
          );
        }
      });
      const done = () => {
        clearTimeout(timer);
        offError();
        offStatus();
      };
    });
  }

  /** A message for this runtime's user, from a stub: to its conversation, answered 200 or 400. */
  #toApp(msg: Message): void {
    if (msg.type === 'response') {
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

function asError(err: unknown): ProtoflyError {
  if (isProtoflyError(err)) return err;
  return new ProtoflyError('PF_ERR_SANDBOX', (err as Error)?.message ?? String(err), {}, { cause: err });
}
