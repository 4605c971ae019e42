import type { ClusterGroups, ClusterMember, Frame, GroupChange, GroupMember, GroupRules } from './service.js';

/** One group: its owner, the owner's word on users (true added, false removed), its sessions. */
interface Group {
  readonly owner: string;
  readonly roster: Map<string, boolean>;
  /** Subscribed sessions to their users. */
  readonly sessions: Map<string, string>;
}

/**
 * The {@link ClusterGroups} of a domain served by one process, in its memory: every member is
 * a session of this node, given each message through the node's member at once.
 */
export class MemoryGroups implements ClusterGroups {
  readonly #groups = new Map<string, Group>();
  readonly #member: () => ClusterMember | undefined;

  /** @param member - the node's member while it is joined */
  constructor(member: () => ClusterMember | undefined) {
    this.#member = member;
  }

  async join(group: string, member: GroupMember, rules: GroupRules) {
    const g = this.#groups.get(group);
    if (!g) {
      const sessions = new Map([[member.session, member.user]]);
      this.#groups.set(group, { owner: member.user, roster: new Map(), sessions });
      return { result: 'joined' as const, size: 1 };
    }
    if (g.sessions.has(member.session)) return { result: 'joined' as const, size: g.sessions.size };
    const word = g.roster.get(member.user);
    if (member.user !== g.owner && (word === false || (rules.membersOnly && word !== true))) {
      return { result: 'refused' as const, size: g.sessions.size };
    }
    if (g.sessions.size >= rules.maxSize) return { result: 'full' as const, size: g.sessions.size };
    g.sessions.set(member.session, member.user);
    return { result: 'joined' as const, size: g.sessions.size };
  }

  async leave(group: string, session: string): Promise<void> {
    const g = this.#groups.get(group);
    g?.sessions.delete(session);
    if (g?.sessions.size === 0) this.#groups.delete(group);
  }

  async change(
    group: string,
    user: string,
    add: readonly string[],
    remove: readonly string[],
    maxSize: number,
  ): Promise<GroupChange> {
    const g = this.#groups.get(group);
    if (!g || g.owner !== user) return { ok: false, reason: 'not-owner' };
    if (remove.includes(g.owner)) return { ok: false, reason: 'owner-removed' };
    const listed = g.roster.size + new Set([...add, ...remove].filter((a) => !g.roster.has(a))).size;
    if (listed > maxSize) return { ok: false, reason: 'full', listed };
    for (const a of add) g.roster.set(a, true);
    for (const a of remove) g.roster.set(a, false);
    const out = new Set(remove);
    for (const [session, member] of g.sessions) if (out.has(member)) g.sessions.delete(session);
    return { ok: true };
  }

  async send(group: string, session: string, frame: Frame): Promise<boolean> {
    const g = this.#groups.get(group);
    if (!g?.sessions.has(session)) return false;
    const member = this.#member();
    for (const s of g.sessions.keys()) if (s !== session) member?.deliver(s, frame);
    return true;
  }
}
