// Over 400 lines, for one thing: the services' contracts, side by side. Each is an interface with
// its docs, and TOKENS below finds each by name; a backend implements its own, and the
// contract suites (test/contracts/*.contract.ts) hold every backend to it.
import 'reflect-metadata';
import type { DependencyContainer } from 'tsyringe';
import { ProtoflyError } from '../../core/errors.js';
import type {
  AddressBookStatus,
  DirectoryEntry,
  DirectoryResult,
  Ed25519Jwk,
  ServiceName,
} from '../../core/generated/types.js';

/**
 * Services and backends (Sippo's idea): a *service* is what a domain offers, a *backend* is
 * how. Services are tsyringe tokens declared here; backends live in plugins/backends and a
 * domain config picks them.
 *
 * Tokens are `Symbol.for` symbols so that separately bundled backends name the same
 * token. Every injected constructor parameter must say `@inject(TOKEN)`: bundlers
 * drop decorator metadata silently.
 */

/** A service token that remembers the interface it stands for. */
export type ServiceToken<T> = symbol & { readonly __service?: T };

/** A value now or later: backends that answer from memory stay synchronous on the message path. */
export type MaybePromise<T> = T | Promise<T>;

/** A json-ws frame as the messaging node sends it: text, or its UTF-8 bytes built once for many sessions. */
export type Frame = string | Uint8Array;

/** What a service holding connections or files releases at shutdown. */
export interface Closable {
  close?(): Promise<void>;
}

/** A user of a directory, without secrets. */
export interface UserRecord {
  readonly name: string;
  readonly disabled: boolean;
}

/** A change to a user: a new password, or being disabled or enabled again. */
export interface UserChange {
  readonly password?: string;
  readonly disabled?: boolean;
}

/** The users an identity backend keeps, when they can be changed. */
export interface UserDirectory {
  list(): Promise<readonly UserRecord[]>;
  /** @throws ProtoflyError `PF_ERR_EXISTS` when the name is taken. */
  create(name: string, password: string): Promise<UserRecord>;
  /** @throws ProtoflyError `PF_ERR_NOT_FOUND` for an unknown user. */
  update(name: string, change: UserChange): Promise<UserRecord>;
}

/**
 * An authorization code from an external OpenID Connect provider, as the app that started the
 * log-in (authorization code flow with PKCE, RFC 7636) hands it to its domain.
 */
export interface CodeGrant {
  readonly code: string;
  /** The PKCE verifier whose S256 challenge the authorization request carried. */
  readonly codeVerifier: string;
  /** The redirect URI of the authorization request, which the provider checks again. */
  readonly redirectUri: string;
  /** The nonce of the authorization request, which the ID token must carry. */
  readonly nonce: string;
}

/** A user's credentials check and the tokens that prove who they are. */
export interface Identity extends Closable {
  /** The user's address when the password is right and the user is not disabled, else undefined. */
  authenticate(name: string, password: string): Promise<string | undefined>;
  /**
   * A short-lived signed token for `address`, a user of this domain.
   *
   * @param audience - the domain whose messaging node will check it; default this domain.
   */
  issue(address: string, ttlSeconds?: number, audience?: string): Promise<string>;
  /** The address a token proves, or a coded error. */
  verify(token: string): Promise<string>;
  /** Whether `address`, a user of this domain, may still get tokens (exists, not disabled): checked at each refresh. */
  active?(address: string): Promise<boolean>;
  /** The users, when this backend can change them (provisioning builds on it). */
  readonly users?: UserDirectory;
  /**
   * The address an external provider's authorization code proves, for a backend whose users
   * log in there: the code redeemed, the ID token verified and mapped to a user of this domain.
   *
   * @throws ProtoflyError `PF_ERR_AUTH` (code refused, ID token bad, no user it maps to),
   *   `PF_ERR_FETCH` (the provider cannot be reached now).
   */
  exchange?(grant: CodeGrant): Promise<string>;
}

/**
 * A location binding: a session on a node holds an address (a user's, or a hyperty's it
 * claimed), until it expires unless renewed. (The sip-ws stub's `Registration` is a SIP client's.)
 */
export interface Binding {
  readonly address: string;
  /** The user address that holds `address`: itself for a user address. */
  readonly owner: string;
  readonly node: string;
  /** Unique in the domain (nodes prefix their session ids with their own id). */
  readonly session: string;
  /** Milliseconds since the epoch when the session took the address: the newest one gets a hyperty's messages. */
  readonly since: number;
  /** Milliseconds since the epoch after which the binding no longer counts unless renewed. */
  readonly expires: number;
}

/** Where users and hyperties are connected: which sessions hold an address, on which node. */
export interface Location extends Closable {
  /** `process`: only this process sees the bindings; `shared`: every node of the domain does. */
  readonly scope: 'process' | 'shared';
  /**
   * Adds or renews a binding. An address other than its owner (a hyperty) belongs to the
   * first owner that registers it, and stays theirs for a while after their last session ends.
   *
   * @returns false when another owner holds `binding.address`.
   */
  register(binding: Binding): Promise<boolean>;
  unregister(address: string, session: string): Promise<void>;
  /** The unexpired bindings of `address`, newest first. */
  lookup(address: string): MaybePromise<readonly Binding[]>;
}

/**
 * Told once whether a frame another node delivered is safe here (see {@link ClusterMember.deliver}):
 * true when the session's client said it took it, or it was held again for its recipient.
 */
export type Taken = (safe: boolean) => void;

/** What a node gives its cluster, to hear from the other nodes. */
export interface ClusterMember {
  /**
   * A frame from another node for `session` of this one; false when that session is not here.
   * When it returns true and `taken` is given (the other node waits to confirm the delivery),
   * `taken` is called once: true when the session's client said it took the frame (receipts on;
   * else once written), or when the connection ended first and the frame was held again; false
   * when it could not be held. Until then the frame is on this node only: a node that dies
   * would lose it, so the sender's node does not count it as delivered. With `heldFirst`, the
   * session takes what is held for that address (one of its own) before this frame.
   */
  deliver(session: string, frame: Frame, taken?: Taken, heldFirst?: string): boolean;
  /** Frames were held for `address`: a node with a session of it takes them. */
  held(address: string): void;
  /** The shared state may have been lost (the link came back): register every session again, take what is held. */
  rejoined(): void;
  /** A node (this one too) shared the domain's policy rules (JSON, as {@link Cluster.sharePolicy} took them). */
  policy(rules: string): void;
}

/** How long and how many frames are held for one address. */
export interface HoldLimits {
  readonly perAddress: number;
  readonly ttlMs: number;
}

/** A session subscribed to a group, on its node, for its user. */
export interface GroupMember {
  readonly session: string;
  readonly node: string;
  readonly user: string;
}

/** Who may join a group besides its owner, and how many sessions (and roster entries) it may have. */
export interface GroupRules {
  /** Only users the owner added (else: anyone the owner did not remove). */
  readonly membersOnly: boolean;
  readonly maxSize: number;
}

/** What an owner's change of members came to: `ok`, or the reason it was refused as a whole. */
export type GroupChange =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-owner' | 'owner-removed' }
  | { readonly ok: false; readonly reason: 'full'; readonly listed: number };

/**
 * Group conversations of a domain, whose members may be on any of its nodes: who subscribed
 * (the first subscriber of a group with none creates and owns it; it ends with its last), the
 * owner's roster, and the fan-out of a member's message to the others, encoded once per node.
 */
export interface ClusterGroups {
  /** Subscribes `member`: `joined` (or already was), `refused` (the roster says no) or `full` (with `size`). */
  join(
    group: string,
    member: GroupMember,
    rules: GroupRules,
  ): Promise<{ readonly result: 'joined' | 'refused' | 'full'; readonly size: number }>;
  leave(group: string, session: string): Promise<void>;
  /** The owner `user` adds and removes users, all or none; removed users' sessions leave, on every node. */
  change(
    group: string,
    user: string,
    add: readonly string[],
    remove: readonly string[],
    maxSize: number,
  ): Promise<GroupChange>;
  /**
   * Gives `frame` to every subscribed session but `session` (through each node's member).
   *
   * @returns false when `session` is not subscribed (nothing sent).
   */
  send(group: string, session: string, frame: Frame): Promise<boolean>;
}

/** Message delivery between the nodes of one domain, and frames held for addresses with no session. */
export interface Cluster extends Closable {
  /** The domain's group conversations. */
  readonly groups: ClusterGroups;
  /** This node's id, unique in the domain. */
  readonly node: string;
  /** Starts hearing from the other nodes. */
  join(member: ClusterMember): Promise<void>;
  /**
   * Delivers a frame to a session on another node.
   *
   * @returns true once the session's client took it, or its node held it again (what
   *   {@link ClusterMember.deliver}'s `taken` said there); false when it could not (no such
   *   session or node, the node died first, or no answer in time): the caller holds the frame
   *   instead. A frame only written to the session when its node dies is not lost: its sender's
   *   node holds it (XEP-0198 §4 for the hop between nodes).
   * @param heldFirst - an address of the session's whose held frames it takes before this
   *   one: the sender's earlier messages to it that were held instead of delivered, which this
   *   one must not overtake
   */
  deliver(node: string, session: string, frame: Frame, heldFirst?: string): Promise<boolean>;
  /**
   * Holds a frame for `address` and tells the nodes, so one with a session of it takes it.
   *
   * @throws ProtoflyError `PF_ERR_QUEUE_FULL` when `address` or the whole store is at its bound.
   */
  hold(address: string, frame: Frame, limits: HoldLimits): Promise<void>;
  /** Takes the unexpired frames held for `address`, oldest first. */
  release(address: string): Promise<readonly Frame[]>;
  /** Frames held now, for health and metrics. */
  held(): Promise<number>;
  /** The nodes alive now. */
  nodes(): Promise<readonly string[]>;
  /**
   * Puts the domain's policy rules (JSON) in force on every node: kept for nodes that start
   * later ({@link sharedPolicy}) and told to each node's member, this one's too, in the order
   * shared, so every node ends with the last rules shared.
   */
  sharePolicy(rules: string): Promise<void>;
  /** The policy rules last shared in the domain, if any. */
  sharedPolicy(): Promise<string | undefined>;
}

/** What one node saw of one conversation since its last report. */
export interface CdrUpdate {
  /** The conversation: its two parties, its kind, and for a call its callId. */
  readonly key: string;
  readonly kind: 'chat' | 'call';
  readonly parties: readonly [string, string];
  readonly callId?: string;
  /** The wire protocol and the stub (`name@version`) the domain serves it with. */
  readonly protocol: string;
  readonly stub: string;
  /** Milliseconds since the epoch: the first and last message of this report. */
  readonly first: number;
  readonly last: number;
  readonly messages: number;
  /** How it stands (`chatting`, `ringing`, `answered`, ...), or how it ended. */
  readonly outcome: string;
  /** When it ended; absent while open. */
  readonly end?: number;
}

/** One conversation's detail record. */
export interface CdrRecord {
  readonly id: number;
  readonly kind: 'chat' | 'call';
  readonly parties: readonly [string, string];
  readonly callId?: string;
  readonly protocol: string;
  readonly stub: string;
  readonly start: number;
  readonly end?: number;
  readonly outcome: string;
  readonly messages: number;
}

/** Which records to list: started in [since, until), with a party, newest first, at most `limit`. */
export interface CdrFilter {
  readonly since?: number;
  readonly until?: number;
  readonly party?: string;
  readonly limit?: number;
}

/**
 * Which records to add up: those that started in [since, until), into UTC buckets of
 * `bucketMs` counted from the epoch, by their start.
 */
export interface CdrAggregateQuery {
  readonly since: number;
  readonly until: number;
  readonly bucketMs: number;
  /** The domain the records are of: a record's foreign domain is that of its party of another domain. */
  readonly domain: string;
}

/** Records of one kind and outcome, and their messages. */
export interface CdrOutcomeCount {
  readonly kind: 'chat' | 'call';
  readonly outcome: string;
  readonly records: number;
  readonly messages: number;
}

/**
 * Durations (end − start, milliseconds) of the calls that ended `completed` (answered, then
 * ended): how many, their sum, and the 50th and 95th percentiles by nearest rank (the value of
 * rank ⌈p·n/100⌉ in ascending order). All 0 with none.
 */
export interface CdrDurations {
  readonly count: number;
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** What a set of records adds up to. */
export interface CdrGroup {
  /** One entry per kind and outcome present. */
  readonly outcomes: readonly CdrOutcomeCount[];
  readonly durations: CdrDurations;
}

/** Records added up in all and by group; a group is there only when it has records. */
export interface CdrAggregate {
  readonly total: CdrGroup;
  /** By the start of the bucket (milliseconds since the epoch). */
  readonly buckets: ReadonlyMap<number, CdrGroup>;
  readonly protocols: ReadonlyMap<string, CdrGroup>;
  readonly stubs: ReadonlyMap<string, CdrGroup>;
  /** By foreign domain; a record whose parties are both of `domain` is in none. */
  readonly domains: ReadonlyMap<string, CdrGroup>;
}

/** Call and chat detail records. */
export interface Cdr extends Closable {
  /** Adds each update to the open record of its conversation, or opens one. */
  record(updates: readonly CdrUpdate[]): Promise<void>;
  /** Ends open records with no message since `before` as `outcome` (left open by a node that stopped). */
  closeStale(before: number, outcome: string): Promise<number>;
  list(filter?: CdrFilter): Promise<readonly CdrRecord[]>;
  /**
   * Adds up the records of a time range where they are kept (the statistics): the answer's
   * size is bounded by the groups, whatever the number of records.
   */
  aggregate(query: CdrAggregateQuery): Promise<CdrAggregate>;
}

/** The users of a domain as its administrators manage them: the identity's directory and the domain's policy. */
export interface Provisioning extends UserDirectory, Closable {
  /** Whether the user `address` may provision users. */
  isAdmin(address: string): boolean;
}

/**
 * The domain's address book: the people its users can find (schemas/address-book.schema.json).
 * Answered from the node's own copy, which is brought up to date from the backend's source on
 * an interval and on demand: a search never waits on the source, and a source that fails
 * leaves the last good copy in place.
 */
export interface AddressBook extends Closable {
  /**
   * Entries whose name, display name, e-mail or phone contains `query` (case-insensitive,
   * taken literally), those starting with it first, at most `limit`.
   */
  search(query: string, limit: number): DirectoryResult;
  /** The entry of `address`, a user address of this domain; undefined when there is none. */
  lookup(address: string): DirectoryEntry | undefined;
  /** Brings the copy up to date now (joining one under way); never rejects: a failure is in the status. */
  sync(): Promise<AddressBookStatus>;
  /** How the copy stands now. */
  status(): AddressBookStatus;
  /** Calls `listener` after each attempt to bring the copy up to date; returns what stops it. */
  onSync(listener: (status: AddressBookStatus) => void): () => void;
}

/** What each service token stands for. */
export interface Services {
  identity: Identity;
  location: Location;
  cluster: Cluster;
  cdr: Cdr;
  provisioning: Provisioning;
  addressbook: AddressBook;
}

function token<K extends ServiceName>(name: K): ServiceToken<Services[K]> {
  return Symbol.for(`protofly.service.${name}`);
}

/** The service tokens. */
export const TOKENS: { readonly [K in ServiceName]: ServiceToken<Services[K]> } = {
  identity: token('identity'),
  location: token('location'),
  cluster: token('cluster'),
  cdr: token('cdr'),
  provisioning: token('provisioning'),
  addressbook: token('addressbook'),
};

/**
 * Writes a file so readers see the old content or the new, never half of it; `PF_ERR_STORAGE`
 * when the disk is full, read-only or not writable.
 */
export type WriteAtomic = (file: string, data: string | Uint8Array, mode?: number) => Promise<void>;

/** What a backend is given when it is created. */
export interface BackendContext {
  readonly domain: string;
  /** Validated against the backend descriptor's configuration schema, defaults filled in. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The domain's data directory: relative paths in `config` are relative to it. */
  readonly dataDir: string;
  /** The domain's signing key: a Node `KeyObject` or a `CryptoKey`, and its public JWK. */
  readonly key: { readonly privateKey: object; readonly publicJwk: Ed25519Jwk };
  /** Other domains' origins, for those not served at https://<domain>. */
  readonly peers: Readonly<Record<string, string>>;
  /** Foreign domains whose users are admitted; all when absent. */
  readonly allowDomains?: readonly string[];
  /** How the host writes files (the server's own `writeAtomic`): a backend that keeps files uses this one. */
  readonly writeAtomic: WriteAtomic;
  /** Another service this backend builds on (provisioning over identity, cluster over location). */
  resolve<T>(token: ServiceToken<T>): T;
}

/** A backend package's default export. */
export interface Backend<K extends ServiceName = ServiceName> {
  readonly service: K;
  create(ctx: BackendContext): Services[K] | Promise<Services[K]>;
}

/**
 * Creates a backend's service and registers it in `container` under its token.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when the backend serves another service.
 */
export async function registerBackend<K extends ServiceName>(
  container: DependencyContainer,
  service: K,
  backend: Backend,
  ctx: Omit<BackendContext, 'resolve'>,
): Promise<Services[K]> {
  if (backend.service !== service) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `backend for '${backend.service}' was configured to serve '${service}'`,
      {
        service,
        backend: backend.service,
      },
    );
  }
  const instance = (await backend.create({ ...ctx, resolve: (t) => container.resolve(t) })) as Services[K];
  container.registerInstance(TOKENS[service], instance);
  return instance;
}
