import type { Session } from './session.js';

/** A hyperty address and the session it is bound to, or was until `releasedAt`. */
interface Binding {
  readonly owner: string;
  session: Session | undefined;
  releasedAt: number;
}

/** Hyperty addresses one session may hold. */
const MAX_HYPERTIES = 64;

/**
 * Who is connected: the sessions of each user address (all get a `user://` message: forking)
 * and the one session of each hyperty address.
 *
 * A hyperty address belongs to the first user that claims it, in that user's own domain. When
 * its session goes, the ownership is kept for `retainMs`, so the same user can claim it again
 * after a reconnect (and receive what was stored for it) and nobody else can meanwhile.
 */
export class Registry {
  readonly #users = new Map<string, Session[]>();
  readonly #hyperties = new Map<string, Binding>();
  readonly #retainMs: number;

  constructor(retainMs: number) {
    this.#retainMs = retainMs;
  }

  /** Adds an authenticated session. */
  add(session: Session): void {
    const list = this.#users.get(session.address!);
    if (list) list.push(session);
    else this.#users.set(session.address!, [session]);
  }

  /** Removes a session; its hyperty addresses stay reserved for its user for `retainMs`. */
  remove(session: Session, now: number): void {
    const list = this.#users.get(session.address!);
    if (!list) return;
    const rest = list.filter((s) => s !== session);
    if (rest.length) this.#users.set(session.address!, rest);
    else this.#users.delete(session.address!);
    for (const address of session.hyperties) {
      const binding = this.#hyperties.get(address);
      if (binding?.session === session) {
        binding.session = undefined;
        binding.releasedAt = now;
      }
    }
  }

  /** The sessions of a user address. */
  sessionsOf(user: string): readonly Session[] | undefined {
    return this.#users.get(user);
  }

  /** The session a hyperty address is bound to. */
  sessionOf(hyperty: string): Session | undefined {
    return this.#hyperties.get(hyperty)?.session;
  }

  /**
   * Binds `hyperty` to `session` if it is in the session user's domain and no other user owns
   * it. The newest session of the owner wins.
   *
   * @returns `'bound'` if it already was, `'claimed'` if it is now, `false` if refused.
   */
  claim(session: Session, hyperty: string): 'bound' | 'claimed' | false {
    const binding = this.#hyperties.get(hyperty);
    if (binding?.session === session) return 'bound';
    if (binding && binding.owner !== session.address) return false;
    if (!binding && !inDomain(hyperty, session.userDomain!)) return false;
    if (session.hyperties.size >= MAX_HYPERTIES) return false;
    if (binding) {
      binding.session?.hyperties.delete(hyperty);
      binding.session = session;
    } else {
      this.#hyperties.set(hyperty, { owner: session.address!, session, releasedAt: 0 });
    }
    session.hyperties.add(hyperty);
    return 'claimed';
  }

  /** Forgets hyperty addresses released more than `retainMs` ago. */
  sweep(now: number): void {
    for (const [address, binding] of this.#hyperties) {
      if (!binding.session && now - binding.releasedAt > this.#retainMs) this.#hyperties.delete(address);
    }
  }
}

function inDomain(hyperty: string, domain: string): boolean {
  const start = 'hyperty://'.length;
  return hyperty.slice(start, hyperty.indexOf('/', start)) === domain;
}
