import type { Binding } from '../services/service.js';
import type { ClientSession } from './client-session.js';
import type { Holds } from './holds.js';
import type { NodeSettings } from './options.js';
import type { Outstanding } from './outstanding.js';

/** Hyperty addresses one session may hold. */
const MAX_HYPERTIES = 64;

/**
 * This node's sessions in the domain's Location service, which is how messages find them here
 * or from other nodes: a session registers its user address when it authenticates, claims
 * hyperty addresses (in `auth` or by sending from one), renews its bindings every
 * heartbeat and unregisters when its connection ends. `user://` messages go to every session of
 * the user (forking), `hyperty://` ones to the newest session holding the address.
 */
export class Presence {
  readonly #settings: NodeSettings;
  readonly #holds: Holds;
  readonly #outstanding: Outstanding;

  constructor(settings: NodeSettings, holds: Holds, outstanding: Outstanding) {
    this.#settings = settings;
    this.#holds = holds;
    this.#outstanding = outstanding;
  }

  /** Registers `session` at its user address (bound and counted as a holder by then). */
  register(session: ClientSession): Promise<boolean> {
    return this.#settings.location.register(this.#binding(session, session.address!));
  }

  /** Claims hyperty address `h` for `session`: in the user's domain, within the bound, not another user's. */
  async claim(session: ClientSession, h: string): Promise<boolean> {
    if (session.hyperties.has(h)) return true;
    if (!inDomain(h, session.userDomain!) || session.hyperties.size >= MAX_HYPERTIES) return false;
    const claimed = await this.#settings.location.register(this.#binding(session, h));
    if (claimed && session.open) {
      session.addHyperty(h);
      this.#holds.addHolder(h, session);
    }
    return claimed;
  }

  /** Renews the bindings of `sessions` (those authenticated and open). */
  async renew(sessions: Iterable<ClientSession>): Promise<void> {
    const { location, log } = this.#settings;
    const renewals: Promise<boolean>[] = [];
    for (const s of sessions) {
      if (!s.address || !s.open) continue;
      for (const a of [s.address, ...s.hyperties]) renewals.push(location.register(this.#binding(s, a)));
    }
    await Promise.all(renewals).catch((err: Error) => log.warn({ err: err.message }, 'bindings not renewed'));
  }

  /** `session`'s connection ended: its addresses are let go (a shutdown waits for it). */
  unregister(session: ClientSession): void {
    const { location, log } = this.#settings;
    const leaving = Promise.all(
      [session.address!, ...session.hyperties].map((a) => location.unregister(a, session.id)),
    ).then(
      () => undefined,
      (err: Error) => log.warn({ session: session.id, err: err.message }, 'not unregistered'),
    );
    this.#outstanding.track(leaving);
  }

  #binding(session: ClientSession, address: string): Binding {
    return {
      address,
      owner: session.address!,
      node: this.#settings.cluster.node,
      session: session.id,
      since: session.since,
      // Renewed every heartbeat: a node that dies stops being routed to a few beats later.
      expires: Date.now() + 3 * this.#settings.heartbeatMs,
    };
  }
}

function inDomain(hyperty: string, domain: string): boolean {
  const start = 'hyperty://'.length;
  return hyperty.slice(start, hyperty.indexOf('/', start)) === domain;
}
