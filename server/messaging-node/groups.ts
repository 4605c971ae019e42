import { domainOf } from '../../core/address.js';
import { ProtoflyError } from '../../core/errors.js';
import type { GroupMembersBody } from '../../core/generated/types.js';
import type { Frame, GroupRules } from '../services/service.js';
import type { ClientSession } from './client-session.js';
import type { NodeSettings } from './options.js';
import type { Outstanding } from './outstanding.js';

/** Groups one session may be subscribed to at once. */
const MAX_GROUPS_PER_SESSION = 256;

/**
 * A node's side of the domain's groups, whose members may be on any node: the domain's policy
 * (domain config `groups`: whose users may join at all) and each session's own groups are
 * decided here; who subscribed, the owner's roster and the fan-out are the Cluster service's
 * (`cluster.groups`: in memory on one node, in Redis across nodes). The first subscriber of a
 * group that has none creates it and owns it; the group ends with its last subscriber. Each
 * decision settles with the refusal, if any, for the node to send; nothing here throws.
 */
export class Groups {
  readonly #settings: NodeSettings;
  readonly #outstanding: Outstanding;
  /** The groups each session of this node subscribed to. */
  readonly #joined = new Map<ClientSession, Set<string>>();
  readonly #rules: GroupRules;
  /** The domains whose users may join; undefined: every domain. */
  readonly #domains: ReadonlySet<string> | undefined;

  constructor(settings: NodeSettings, outstanding: Outstanding) {
    this.#settings = settings;
    this.#outstanding = outstanding;
    const subscribe = settings.groups.subscribe ?? 'domain';
    this.#rules = { membersOnly: subscribe === 'members', maxSize: settings.maxGroupSize };
    this.#domains =
      subscribe === 'any' ? undefined : new Set([settings.domain, ...(settings.groups.foreignDomains ?? [])]);
  }

  /** Subscribes `session` to `group`, creating the group (owned by its user) if it has no subscriber. */
  async join(session: ClientSession, group: string): Promise<ProtoflyError | undefined> {
    const user = session.address!;
    if (!this.#admits(session.userDomain!)) {
      return forbidden(
        `users of ${session.userDomain} may not join this node's groups (groups policy)`,
        group,
      );
    }
    let joined = this.#joined.get(session);
    const fresh = !joined?.has(group);
    if (fresh) {
      // Each group costs the domain memory until its last subscriber leaves: one session makes
      // few. Counted from the asking on, so that joins asked at once cannot pass the bound together.
      if ((joined?.size ?? 0) >= MAX_GROUPS_PER_SESSION) {
        return new ProtoflyError(
          'PF_ERR_TOO_LARGE',
          `${user} has joined ${joined!.size} groups on this connection, the limit`,
          { limit: MAX_GROUPS_PER_SESSION },
        );
      }
      joined ??= new Set();
      joined.add(group);
      this.#joined.set(session, joined);
    }
    // Should the connection end meanwhile, leaveAll's leaving reaches the cluster after this.
    const member = { session: session.id, node: this.#settings.cluster.node, user };
    const { result, size } = await this.#settings.cluster.groups.join(group, member, this.#rules);
    if (result === 'joined') return;
    if (fresh) this.#forget(session, group);
    if (result === 'refused')
      return forbidden(`${user} is not a member of ${group}; its owner adds members`, group);
    return new ProtoflyError('PF_ERR_TOO_LARGE', `${group} has its limit of ${size} subscribers`, {
      to: group,
    });
  }

  /** Unsubscribes `session` from `group`; the group ends with its last subscriber. */
  leave(session: ClientSession, group: string): Promise<void> {
    this.#forget(session, group);
    return this.#settings.cluster.groups.leave(group, session.id);
  }

  /** `session` leaves every group it subscribed to (its connection ended; a shutdown waits for it). */
  leaveAll(session: ClientSession): void {
    for (const group of this.#joined.get(session) ?? []) this.#leave(session, group);
  }

  /**
   * The owner's change of members: all of it applies, or none (the refusal is returned).
   * Removed users' sessions leave the group, on every node.
   */
  async members(
    session: ClientSession,
    group: string,
    body: GroupMembersBody,
  ): Promise<ProtoflyError | undefined> {
    const add = body.add ?? [];
    const remove = body.remove ?? [];
    const foreign = add.find((a) => !this.#admits(domainOf(a)));
    if (foreign) {
      return forbidden(
        `${foreign}: users of its domain may not join this node's groups (groups policy)`,
        group,
      );
    }
    const { maxSize } = this.#rules;
    const change = await this.#settings.cluster.groups.change(group, session.address!, add, remove, maxSize);
    if (change.ok) return;
    if (change.reason === 'full') {
      return new ProtoflyError(
        'PF_ERR_TOO_LARGE',
        `${group} would have ${change.listed} members listed, over its limit of ${maxSize}`,
        { to: group },
      );
    }
    return change.reason === 'owner-removed'
      ? forbidden(`${session.address} owns ${group} and cannot be removed`, group)
      : forbidden(`${session.address} does not own ${group}; only its owner changes its members`, group);
  }

  /** Gives `frame`, `session`'s message to `group`, to every other subscriber, on every node. */
  async send(session: ClientSession, group: string, frame: Frame): Promise<ProtoflyError | undefined> {
    if (await this.#settings.cluster.groups.send(group, session.id, frame)) return;
    return new ProtoflyError('PF_ERR_FORBIDDEN', `${session.address} is not a member of ${group}`, {
      to: group,
    });
  }

  /** Leaves `group` for `session`, in the background: a failure is logged, a shutdown waits for it. */
  #leave(session: ClientSession, group: string): void {
    const leaving = this.leave(session, group).catch((err: Error) =>
      this.#settings.log.warn({ session: session.id, group, err: err.message }, 'group not left'),
    );
    this.#outstanding.track(leaving);
  }

  /** `session` is not subscribed to `group`, as far as this node counts. */
  #forget(session: ClientSession, group: string): void {
    const joined = this.#joined.get(session);
    joined?.delete(group);
    if (joined?.size === 0) this.#joined.delete(session);
  }

  #admits(domain: string): boolean {
    return this.#domains?.has(domain) ?? true;
  }
}

function forbidden(message: string, group: string): ProtoflyError {
  return new ProtoflyError('PF_ERR_FORBIDDEN', message, { to: group, code: 403 });
}
