import { domainOf } from '../../core/address.js';
import { ProtoflyError } from '../../core/errors.js';
import type { GroupMembersBody } from '../../core/generated/types.js';
import type { ClientSession } from './client-session.js';
import type { GroupPolicy } from './options.js';

/** Groups one session may be subscribed to at once. */
const MAX_GROUPS_PER_SESSION = 256;

/** One group: who owns it, who the owner let in or put out, and the sessions subscribed. */
interface Group {
  /** The user whose session created the group. */
  readonly owner: string;
  /** The owner's word on users: true added, false removed. */
  readonly roster: Map<string, boolean>;
  readonly sessions: Set<ClientSession>;
}

/**
 * A node's groups and who may join them. The first subscriber of a group that has none
 * creates it and owns it; the group ends with its last subscriber. The node's policy
 * (domain config `groups`) says whose users may join at all, the owner's roster who among them.
 * Each decision returns the refusal, if any, for the node to send; nothing here throws.
 */
export class Groups {
  readonly #groups = new Map<string, Group>();
  /** The groups each session subscribed to. */
  readonly #joined = new Map<ClientSession, Set<string>>();
  readonly #membersOnly: boolean;
  /** The domains whose users may join; undefined: every domain. */
  readonly #domains: ReadonlySet<string> | undefined;

  constructor(
    domain: string,
    policy: GroupPolicy,
    /** Subscribers, and roster entries, one group may have. */
    readonly maxSize: number,
  ) {
    const subscribe = policy.subscribe ?? 'domain';
    this.#membersOnly = subscribe === 'members';
    this.#domains = subscribe === 'any' ? undefined : new Set([domain, ...(policy.foreignDomains ?? [])]);
  }

  /** The sessions subscribed to `group`, if it exists. */
  subscribers(group: string): ReadonlySet<ClientSession> | undefined {
    return this.#groups.get(group)?.sessions;
  }

  /** Subscribes `session` to `group`, creating the group (owned by its user) if it has no subscriber. */
  join(session: ClientSession, group: string): ProtoflyError | undefined {
    const user = session.address!;
    if (!this.#admits(session.userDomain!)) {
      return forbidden(
        `users of ${session.userDomain} may not join this node's groups (groups policy)`,
        group,
      );
    }
    const g = this.#groups.get(group);
    if (g?.sessions.has(session)) return;
    const joined = this.#joined.get(session)?.size ?? 0;
    // Each group costs the node memory until its last subscriber leaves: one session makes few.
    if (joined >= MAX_GROUPS_PER_SESSION) {
      return new ProtoflyError(
        'PF_ERR_FLOOD',
        `${user} has joined ${joined} groups on this connection, the limit`,
        { limit: MAX_GROUPS_PER_SESSION },
      );
    }
    if (!g) {
      this.#groups.set(group, { owner: user, roster: new Map(), sessions: new Set([session]) });
      this.#join(session, group);
      return;
    }
    const word = g.roster.get(user);
    if (user !== g.owner && (word === false || (this.#membersOnly && word !== true))) {
      return forbidden(`${user} is not a member of ${group}; its owner adds members`, group);
    }
    if (g.sessions.size >= this.maxSize) {
      return new ProtoflyError('PF_ERR_FLOOD', `${group} has its limit of ${g.sessions.size} subscribers`, {
        to: group,
      });
    }
    g.sessions.add(session);
    this.#join(session, group);
  }

  #join(session: ClientSession, group: string): void {
    const joined = this.#joined.get(session);
    if (joined) joined.add(group);
    else this.#joined.set(session, new Set([group]));
  }

  /** Unsubscribes `session` from `group`; the group ends with its last subscriber. */
  leave(session: ClientSession, group: string): void {
    const joined = this.#joined.get(session);
    joined?.delete(group);
    if (joined?.size === 0) this.#joined.delete(session);
    const g = this.#groups.get(group);
    g?.sessions.delete(session);
    if (g?.sessions.size === 0) this.#groups.delete(group);
  }

  /** `session` leaves every group it subscribed to (its connection ended). */
  leaveAll(session: ClientSession): void {
    for (const group of this.#joined.get(session) ?? []) this.leave(session, group);
  }

  /**
   * The owner's change of members: all of it applies, or none (the refusal is returned).
   * Removed users' sessions leave the group.
   */
  members(session: ClientSession, group: string, body: GroupMembersBody): ProtoflyError | undefined {
    const g = this.#groups.get(group);
    if (!g || g.owner !== session.address) {
      return forbidden(`${session.address} does not own ${group}; only its owner changes its members`, group);
    }
    const add = body.add ?? [];
    const remove = body.remove ?? [];
    if (remove.includes(g.owner)) return forbidden(`${g.owner} owns ${group} and cannot be removed`, group);
    const foreign = add.find((a) => !this.#admits(domainOf(a)));
    if (foreign)
      return forbidden(
        `${foreign}: users of its domain may not join this node's groups (groups policy)`,
        group,
      );
    const fresh = new Set([...add, ...remove].filter((a) => !g.roster.has(a))).size;
    if (g.roster.size + fresh > this.maxSize) {
      return new ProtoflyError(
        'PF_ERR_FLOOD',
        `${group} would have ${g.roster.size + fresh} members listed, over its limit of ${this.maxSize}`,
        { to: group },
      );
    }
    for (const a of add) g.roster.set(a, true);
    for (const a of remove) g.roster.set(a, false);
    if (remove.length === 0) return;
    const out = new Set(remove);
    for (const s of g.sessions) if (out.has(s.address!)) this.leave(s, group);
  }

  #admits(domain: string): boolean {
    return this.#domains?.has(domain) ?? true;
  }
}

function forbidden(message: string, group: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_FORBIDDEN', message, { to: group, code: 403 });
}
