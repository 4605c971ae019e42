import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { closeCodeOf, type ErrorCode, isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { AuthFrame, Message, MsgFrame } from '../../core/generated/types.js';
import { validateGroupMembersBody } from '../../core/generated/validators.js';
import type { ClusterMember, Frame, HoldLimits, Registration } from '../../core/service.js';
import { schemaError } from '../../core/validate.js';
import { TOKEN_PATH } from '../identity/token-endpoint.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import { CdrRecorder } from './cdr-recorder.js';
import { errFrame, msgFrame, PONG, PROTOCOL, readClientFrame, readyFrame } from './frames.js';
import { Groups } from './groups.js';
import { NodeMetrics } from './metrics.js';
import { type MessagingNodeOptions, type NodeSettings, settingsOf } from './options.js';
import { provisioningApi } from './provisioning-api.js';
import { Session } from './session.js';

/**
 * The messaging node: protofly's own server for a domain, speaking json-ws
 * (schemas/json-ws-frame.schema.json) to its clients.
 *
 * A client authenticates with its first frame, `{t:'auth', token}`: a JWT from the user's home
 * domain for this node's domain (in a frame rather than the URL, so tokens stay out of access
 * logs and browsers need no custom headers). The connection is then bound to the verified
 * user address, and every message whose `from` is neither that address nor a hyperty address
 * of the user is refused. `user://` messages go to every session of the user (forking),
 * `hyperty://` ones to the newest session holding the address; with no session, they are
 * held for a while. Every message is answered once, by its id in an `ack` or an `err`, in order.
 *
 * Sessions are found through the domain's Location service and reached on other nodes through
 * its Cluster service, so several nodes serve one domain when both are shared (Redis). A
 * message is acknowledged once a session has it or the cluster holds it for the recipient.
 *
 * Group conversations: a session that sends `subscribe` to `domain://msg-node.<domain>/group/<name>`
 * gets every other message its members send there (fan-out, one encoding for all); `unsubscribe`
 * leaves. Who may join is the domain's group policy and the group owner's word (see Groups).
 * A session whose socket holds more than `maxBufferedBytes` unsent is a slow consumer: told,
 * dropped (1013), and what was bound for it is held for its user, so the others are not slowed
 * and nothing acknowledged is lost.
 *
 * No input stops the node: a frame's nesting is bounded before it is parsed (maxJsonDepth), and
 * whatever still throws while a session's frame is handled (parsed, checked, routed, encoded,
 * delivered, fanned out, received) closes that session alone (1011, PF_ERR_INTERNAL), counted
 * and logged. Connections not yet authenticated are bounded apart (maxPendingAuth, and per
 * remote address) and get authTimeoutMs to authenticate; only authenticated ones count
 * against maxConnections.
 *
 * Close codes: 1012 shutdown (reconnect), 1009 frame too large (ws's own); every other close is
 * for an error code, its reason, with that code's close code (core/errors.ts): 1013 PF_ERR_FLOOD
 * (node full, too many connections authenticating, slow consumer), 1013 PF_ERR_FETCH (issuer's
 * keys unreachable), 1008 PF_ERR_TIMEOUT (no `auth` in time), 1011 PF_ERR_INTERNAL (handling a
 * frame failed), 4401 PF_ERR_AUTH (token refused), 4403 PF_ERR_FORBIDDEN (domain not admitted).
 */
export interface MessagingNode {
  /** Where clients connect: `ws://<host>:<port>/`. */
  readonly url: string;
  readonly port: number;
  /** Health, metrics and provisioning: `http://<host>:<adminPort>`. */
  readonly adminUrl: string;
  /** This node's id in its cluster. */
  readonly id: string;
  readonly metrics: NodeMetrics;
  /** Open connections, authenticated or not. */
  readonly connections: number;
  /** Open connections not yet authenticated. */
  readonly pendingAuth: number;
  /** Graceful shutdown: clients are told to reconnect (1012), then the listeners close. */
  close(): Promise<void>;
}

/** The close code the node uses that is no error's (those are in core/errors.ts). */
export const CLOSE = {
  SERVICE_RESTART: 1012,
} as const;

/** Hyperty addresses one session may hold. */
const MAX_HYPERTIES = 64;
/** Recipients one session may have refused messages waiting to be sent again to (see #route). */
const MAX_REFUSED_RUNS = 1024;
/** Milliseconds a socket the node closed has to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;

/** Starts a messaging node on its WebSocket and admin ports, joined to its cluster. */
export async function startMessagingNode(options: MessagingNodeOptions): Promise<MessagingNode> {
  const node = new Node(settingsOf(options));
  await node.listen();
  return node;
}

class Node implements MessagingNode {
  readonly metrics = new NodeMetrics();
  readonly #settings: NodeSettings;
  /** Every open connection, by session id. */
  readonly #sessions = new Map<string, Session>();
  /**
   * This node's own sessions by the addresses they hold. Routing goes through Location; this
   * is for what must happen at once, without a round trip: a session that frames were just
   * held for starts catching up before the next frame for it can arrive.
   */
  readonly #holders = new Map<string, Set<Session>>();
  readonly #holdLimits: HoldLimits;
  readonly #groups: Groups;
  readonly #groupPrefix: string;
  /** Connections authenticated now: what maxConnections bounds. */
  #authenticated = 0;
  /** Connections not yet authenticated, in all and by remote address. */
  #pending = 0;
  readonly #pendingFrom = new Map<string, number>();
  readonly #cdr: CdrRecorder | undefined;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  /** Unregistrations under way, awaited before the node reports closed. */
  readonly #leaving = new Set<Promise<void>>();
  #admin: AdminServer | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;
  #port = 0;
  #nextSession = 0;

  constructor(settings: NodeSettings) {
    this.#settings = settings;
    this.#holdLimits = { perAddress: settings.offlineMessages, ttlMs: settings.offlineTtlSeconds * 1000 };
    this.#groupPrefix = `domain://msg-node.${settings.domain}/group/`;
    this.#groups = new Groups(settings.domain, settings.groups, settings.maxGroupSize);
    this.#cdr = settings.cdr && new CdrRecorder(settings.cdr, settings.log);
    this.#http = createServer((req, res) => {
      if (settings.tokenEndpoint && req.url?.split('?')[0] === TOKEN_PATH) {
        void settings.tokenEndpoint(req, res);
        return;
      }
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`json-ws: open a WebSocket with subprotocol ${PROTOCOL}\n`);
    });
    this.#wss = new WebSocketServer({
      server: this.#http,
      maxPayload: settings.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.#wss.on('connection', (ws, req) => this.#onConnection(ws, req.socket));
    // ws repeats the HTTP server's errors here; listen() reports those of listening (a port in
    // use), and without a listener here each would also be an uncaught exception.
    this.#wss.on('error', (err) => {
      if (this.#port) settings.log.error({ err }, 'messaging node listener error');
    });
  }

  get id(): string {
    return this.#settings.cluster.node;
  }

  get url(): string {
    return `ws://${this.#settings.host}:${this.#port}/`;
  }

  get port(): number {
    return this.#port;
  }

  get adminUrl(): string {
    return this.#admin!.url;
  }

  get connections(): number {
    return this.#sessions.size;
  }

  get pendingAuth(): number {
    return this.#pending;
  }

  async listen(): Promise<void> {
    const { host, port, adminPort, heartbeatMs, log, cluster, identity, provisioning } = this.#settings;
    await cluster.join(this.#member);
    await this.#cdr?.start();
    try {
      await new Promise<void>((resolve, reject) => {
        this.#http.once('error', reject);
        // Under node:cluster (protofly serve --cluster) the nodes share this port: the primary
        // hands each connection to one of them. The admin port is each node's own.
        this.#http.listen({ port, host }, () => {
          this.#http.off('error', reject);
          resolve();
        });
      });
      this.#port = (this.#http.address() as AddressInfo).port;
      this.#admin = await startAdminServer(host, adminPort, {
        health: async () => ({
          ok: !this.#closing,
          domain: this.#settings.domain,
          node: this.id,
          connections: this.#sessions.size,
          stored: await cluster.held(),
        }),
        metrics: async () =>
          this.metrics.render({
            connections: this.#sessions.size,
            pendingAuth: this.#pending,
            storedNow: await cluster.held(),
          }),
        ...(provisioning ? { provisioning: provisioningApi(provisioning, identity, log) } : {}),
        log,
      });
    } catch (err) {
      // A node that cannot take both ports keeps neither: nothing is left half started.
      await new Promise((resolve) => this.#http.close(resolve));
      await this.#cdr?.close();
      throw err;
    }
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    log.info(
      { domain: this.#settings.domain, node: this.id, url: this.url, admin: this.adminUrl },
      'messaging node listening',
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { shutdownGraceMs, log } = this.#settings;
    clearInterval(this.#heartbeat);
    const listening = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    const closed = [...this.#sessions.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.ws.once('close', () => resolve());
          s.flushAcks(); // fewer messages for the clients to resend
          s.ws.close(CLOSE.SERVICE_RESTART, 'service restart');
        }),
    );
    const grace = setTimeout(() => {
      for (const s of this.#sessions.values()) s.ws.terminate();
    }, shutdownGraceMs);
    await Promise.all(closed);
    clearTimeout(grace);
    this.#wss.close();
    await listening;
    await Promise.all(this.#leaving);
    await this.#cdr?.close();
    await this.#admin?.close();
    log.info({ domain: this.#settings.domain, node: this.id }, 'messaging node closed');
  }

  /** What the other nodes of the cluster reach this one through. */
  readonly #member: ClusterMember = {
    deliver: (id, frame) => {
      const session = this.#sessions.get(id);
      if (!session?.address) return false;
      try {
        return this.#deliverTo(session, frame);
      } catch (err) {
        session.fail(err);
        return false;
      }
    },
    held: (address) => this.#takeHeldFor(address),
    rejoined: () => void this.#rejoin(),
  };

  /** Gives a `msg` frame to one of this node's sessions; false when it did not take it. */
  #deliverTo(session: Session, frame: Frame): boolean {
    if (!session.open) {
      // Going (its close event may come later): what it had not taken is held before this.
      this.#holdAgain(session.takeUnreceived());
      return false;
    }
    if (
      session.ws.bufferedAmount > this.#settings.maxBufferedBytes ||
      (session.unreceived?.length ?? 0) >= this.#settings.maxUnreceived
    ) {
      return this.#dropSlow(session);
    }
    session.deliver(frame);
    this.metrics.messagesOut++;
    return true;
  }

  #onConnection(ws: WebSocket, socket: Socket): void {
    const { messagesPerSecond, burst, authTimeoutMs, ackDelayMs } = this.#settings;
    if (this.#closing) return ws.close(CLOSE.SERVICE_RESTART, 'service restart');
    const session: Session = new Session(
      ws,
      socket,
      `${this.id}.${++this.#nextSession}`,
      messagesPerSecond,
      burst,
      ackDelayMs,
      (err) => this.#contain(session, err),
    );
    ws.on('error', (err) => this.#onSocketError(err));
    const from = socket.remoteAddress ?? '';
    const full = this.#full() ?? this.#pendingFull(from);
    if (full) {
      this.#refuse(session, full);
      return this.#cut(session, 'PF_ERR_FLOOD');
    }
    this.#sessions.set(session.id, session);
    this.#pending++;
    this.#pendingFrom.set(from, (this.#pendingFrom.get(from) ?? 0) + 1);
    session.pendingFrom = from;
    const authTimer = setTimeout(() => {
      if (session.address) return;
      try {
        this.#refuse(
          session,
          new ProtoflyError('PF_ERR_TIMEOUT', `not authenticated within ${authTimeoutMs} ms`),
        );
        // Even one closing already (a bad frame): a peer that does not finish closing keeps no slot.
        this.#cut(session, 'PF_ERR_TIMEOUT');
      } catch (err) {
        session.fail(err);
      }
    }, authTimeoutMs);
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('close', () => {
      clearTimeout(authTimer);
      try {
        this.#closed(session);
      } catch (err) {
        session.fail(err);
      }
    });
    // The guard of every frame: whatever its handling throws ends this session, not the node.
    ws.on('message', (data, isBinary) => {
      try {
        this.#onFrame(session, data, isBinary);
      } catch (err) {
        session.fail(err);
      }
    });
  }

  /** The refusal of one more authenticated connection, when the node has its maxConnections. */
  #full(): ProtoflyError | undefined {
    const { maxConnections } = this.#settings;
    if (this.#authenticated < maxConnections) return;
    return new ProtoflyError('PF_ERR_FLOOD', `node is at its limit of ${maxConnections} connections`, {
      limit: maxConnections,
    });
  }

  /** The refusal of one more connection authenticating, from `from` (a remote IP address). */
  #pendingFull(from: string): ProtoflyError | undefined {
    const { maxPendingAuth, maxPendingAuthPerAddress } = this.#settings;
    if (this.#pending >= maxPendingAuth) {
      return new ProtoflyError(
        'PF_ERR_FLOOD',
        `${this.#pending} connections are authenticating, the node's limit (maxPendingAuth ${maxPendingAuth})`,
        { limit: maxPendingAuth },
      );
    }
    if ((this.#pendingFrom.get(from) ?? 0) >= maxPendingAuthPerAddress) {
      return new ProtoflyError(
        'PF_ERR_FLOOD',
        `${maxPendingAuthPerAddress} connections from ${from} are authenticating, the limit for one address (maxPendingAuthPerAddress)`,
        { limit: maxPendingAuthPerAddress },
      );
    }
  }

  /** `session` no longer counts as authenticating: it did, or it is gone. */
  #settlePending(session: Session): void {
    const from = session.pendingFrom;
    if (from === undefined) return;
    session.pendingFrom = undefined;
    this.#pending--;
    const n = this.#pendingFrom.get(from)! - 1;
    if (n === 0) this.#pendingFrom.delete(from);
    else this.#pendingFrom.set(from, n);
  }

  /** The connection closed: what it held is let go, what was bound for it is held for its user. */
  #closed(session: Session): void {
    this.#settlePending(session);
    session.flushAcks();
    this.#sessions.delete(session.id);
    if (!session.address) return;
    this.#authenticated--;
    for (const a of [session.address, ...session.hyperties]) this.#removeHolder(a, session);
    for (const group of session.groups) this.#groups.leave(session, group);
    this.#holdAgain(session.takeUnreceived());
    this.#unregister(session);
  }

  #onFrame(session: Session, data: RawData, isBinary: boolean): void {
    // Once closing, nothing is taken: the sender gets no ack and resends after reconnecting.
    if (!session.open || this.#closing) return;
    let frame: ReturnType<typeof readClientFrame>;
    try {
      frame = readClientFrame(data, isBinary, this.#settings.maxJsonDepth);
    } catch (err) {
      const e = err as ProtoflyError;
      // Junk takes from the same budget as messages; past it, it is dropped unanswered.
      if (!session.bucket.take()) return this.metrics.refuse('PF_ERR_FLOOD');
      return this.#refuse(session, e, e.detail.id as string | undefined);
    }
    if (frame.t === 'ping') return this.#pong(session);
    if (frame.t === 'auth') return void this.#authenticate(session, frame).catch(session.fail);
    if (frame.t === 'received') return this.#receipt(session, frame.n);
    this.metrics.messagesIn++;
    if (!session.address) {
      const err = new ProtoflyError('PF_ERR_AUTH', `message ${frame.m.id} sent before authenticating`);
      return this.#refuse(session, err, frame.m.id);
    }
    const m = frame.m;
    // Behind a message still waiting on a service, or on its own when it has to wait.
    const waiting = session.queue
      ? session.queue.then(() => this.#route(session, m))
      : this.#route(session, m);
    if (!waiting) return;
    const tail = waiting.catch(session.fail);
    session.queue = tail;
    void tail.then(() => {
      if (session.queue === tail) session.queue = undefined;
    });
  }

  /**
   * Contains a failure in handling `session`'s frames (a bug, or input that got past the
   * checks): the session is told, closed (1011) and counted; the node serves on.
   */
  #contain(session: Session, err: unknown): void {
    if (session.failed) return;
    session.failed = true;
    this.metrics.contained++;
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.#settings.log.error(
      { session: session.id, address: session.address, err: reason.slice(0, 512) },
      'handling a frame failed: session closed',
    );
    const e = new ProtoflyError(
      'PF_ERR_INTERNAL',
      `handling a frame of this connection failed (${reason}); reconnect`,
    );
    try {
      this.#refuse(session, e);
      this.#cut(session, 'PF_ERR_INTERNAL');
    } catch {
      session.ws.terminate(); // it cannot even be told
    }
  }

  /** Closes for `code` (its close code, see core/errors.ts), and cuts the socket if the peer does not finish closing soon. */
  #cut(session: Session, code: ErrorCode, reason: string = code): void {
    this.#settlePending(session);
    session.ws.close(closeCodeOf(code), reason);
    setTimeout(() => session.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** A client checks the node is there: answered at once, within the session's rate like any frame. */
  #pong(session: Session): void {
    if (session.bucket.take()) session.send(PONG);
    else this.metrics.refuse('PF_ERR_FLOOD');
  }

  #receipt(session: Session, n: number): void {
    if (session.receipt(n)) return;
    const err = session.unreceived
      ? new ProtoflyError(
          'PF_ERR_FRAME',
          `received ${n}: ${session.received} msg frames were taken before, and ${session.unreceived.length} sent since`,
        )
      : new ProtoflyError(
          'PF_ERR_FRAME',
          "a 'received' frame from a session that did not ask for receipts in auth",
        );
    this.#refuse(session, err);
  }

  async #authenticate(session: Session, frame: AuthFrame): Promise<void> {
    if (session.address || session.authenticating) {
      return this.#refuse(
        session,
        new ProtoflyError('PF_ERR_FRAME', 'already authenticated: one auth frame only'),
      );
    }
    session.authenticating = true;
    let address: string;
    try {
      address = await this.#settings.identity.verify(frame.token);
    } catch (err) {
      const e = isProtoflyError(err)
        ? err
        : new ProtoflyError(
            'PF_ERR_AUTH',
            `token not verified: ${(err as Error).message}`,
            {},
            { cause: err },
          );
      this.#refuse(session, e);
      this.#settings.log.info({ code: e.code, reason: e.message }, 'connection refused');
      return this.#cut(session, e.code);
    } finally {
      session.authenticating = false;
    }
    if (!session.open || this.#closing) return;
    const full = this.#full();
    if (full) {
      this.#refuse(session, full);
      return this.#cut(session, 'PF_ERR_FLOOD');
    }
    this.#settlePending(session);
    this.#authenticated++;
    session.bind(address);
    if (frame.receipts) session.unreceived = [];
    // Whatever reaches the session from now on waits until what was held for it is out.
    session.catchingUp++;
    session.deferred = [];
    this.#addHolder(address, session);
    try {
      await this.#settings.location.register(this.#registration(session, address));
      const granted: string[] = [];
      for (const h of frame.hyperties ?? []) if (await this.#claim(session, h)) granted.push(h);
      if (!session.open) return;
      session.send(readyFrame(address, granted));
      await this.#takeHeld(session, [address, ...granted]);
      this.#settings.log.debug({ address, hyperties: granted }, 'session ready');
    } catch (err) {
      this.#failed(session, err, 'registering');
    } finally {
      this.#caughtUp(session);
    }
  }

  /**
   * Routes one message: the sender checks, then the recipient's sessions through Location,
   * here or on other nodes. Returns a promise only when the session's later messages must wait
   * for it (a hyperty address being claimed); it never rejects.
   */
  #route(session: Session, m: Message): Promise<void> | undefined {
    if (!session.open) return;
    // Refused messages to a recipient form a run, so that a client sending them again in order
    // keeps its order: what it sent after one refused is refused too until it sends that one again.
    const refused = session.refusedTo?.get(m.to);
    if (refused !== undefined && refused !== m.id) {
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `message ${m.id} refused to keep order: ${refused}, sent to ${m.to} before it, was refused for the rate; send ${refused} again first`,
        { refused },
      );
      return this.#refuse(session, err, m.id);
    }
    if (!session.bucket.take(performance.now())) return this.#overRate(session, m);
    if (refused !== undefined) session.refusedTo!.delete(m.to);
    if (m.from !== session.address && !session.hyperties.has(m.from)) {
      if (!m.from.startsWith('hyperty://')) return this.#refuse(session, spoof(session, m), m.id);
      return this.#claim(session, m.from).then(
        async (claimed) => {
          if (!claimed) return this.#refuse(session, spoof(session, m), m.id);
          await this.#takeHeld(session, [m.from]);
          this.#forward(session, m);
        },
        (err) => this.#failed(session, err, 'claiming', m.id),
      );
    }
    this.#forward(session, m);
  }

  /** Refuses `m`, over its session's rate, and starts the run of refusals to its recipient. */
  #overRate(session: Session, m: Message): undefined {
    const { messagesPerSecond } = this.#settings;
    session.refusedTo ??= new Map();
    const runs = session.refusedTo;
    if (!runs.has(m.to) && runs.size >= MAX_REFUSED_RUNS) {
      // Order cannot be kept for one more recipient: fail closed rather than keep without bound.
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `refused messages to ${runs.size} recipients are waiting to be sent again, the limit; reconnect`,
        { limit: MAX_REFUSED_RUNS },
      );
      this.#refuse(session, err, m.id);
      this.#cut(session, 'PF_ERR_FLOOD');
      return;
    }
    runs.set(m.to, m.id);
    const err = new ProtoflyError(
      'PF_ERR_FLOOD',
      `${session.address} is over ${messagesPerSecond} messages/s; message ${m.id} refused`,
      { limit: messagesPerSecond },
    );
    return this.#refuse(session, err, m.id);
  }

  /** Looks the recipient up; lookups answer in the order asked, so messages leave in the order sent. */
  #forward(session: Session, m: Message): void {
    if (m.to.startsWith(this.#groupPrefix)) return this.#toGroup(session, m);
    if (!m.to.startsWith('user://') && !m.to.startsWith('hyperty://')) {
      const err = new ProtoflyError(
        'PF_ERR_NO_ROUTE',
        `${m.to}: a node routes user://, hyperty:// and ${this.#groupPrefix}<name> addresses`,
        { to: m.to },
      );
      return this.#refuse(session, err, m.id);
    }
    let found: ReturnType<NodeSettings['location']['lookup']>;
    try {
      found = this.#settings.location.lookup(m.to);
    } catch (err) {
      return this.#failed(session, err, 'looking up', m.id);
    }
    if (Array.isArray(found)) return this.#dispatch(session, m, found);
    (found as Promise<readonly Registration[]>)
      .then(
        (regs) => this.#dispatch(session, m, regs),
        (err) => this.#failed(session, err, 'looking up', m.id),
      )
      .catch(session.fail);
  }

  /**
   * Sends `m` on its way. Messages of a session to one recipient form a lane: one goes out at
   * once when the ones before it went to the same sessions (it cannot overtake them there),
   * and is settled (acknowledged, or held when not delivered) after them, so held messages
   * keep their order; one bound elsewhere waits until they all settled, so it never
   * overtakes one of them that ends up held.
   */
  #dispatch(session: Session, m: Message, regs: readonly Registration[]): void {
    const targets = m.to.startsWith('hyperty://') ? regs.slice(0, 1) : regs;
    const lane = session.lanes.get(m.to);
    if (!lane) {
      const done = this.#deliver(session, m, targets);
      if (done) this.#lane(session, m.to, laneKey(targets), Promise.resolve(), done);
      return;
    }
    const key = laneKey(targets);
    if (lane.targets === key) {
      const after = lane.settled;
      this.#lane(
        session,
        m.to,
        key,
        lane.issue,
        lane.issue.then(() => this.#deliver(session, m, targets, after)),
      );
    } else {
      this.#lane(
        session,
        m.to,
        key,
        lane.settled,
        lane.settled.then(() => this.#deliver(session, m, targets)),
      );
    }
  }

  #lane(session: Session, to: string, targets: string, issue: Promise<void>, done: Promise<void>): void {
    const before = session.lanes.get(to);
    const lane = {
      targets,
      issue,
      settled: before ? Promise.all([before.settled, done]).then(() => {}) : done,
    };
    session.lanes.set(to, lane);
    lane.settled
      .then(() => {
        if (session.lanes.get(to) === lane) session.lanes.delete(to);
      })
      .catch(session.fail);
  }

  /**
   * Gives `m` to the sessions `targets` (here, or through the cluster), then, once `after`
   * settled too, acknowledges it if any took it, else holds it. Synchronous when every target
   * is here and nothing is to be waited for.
   */
  #deliver(
    session: Session,
    m: Message,
    targets: readonly Registration[],
    after?: Promise<void>,
  ): Promise<void> | undefined {
    const frame = msgFrame(m);
    let delivered = 0;
    let remote: Promise<boolean>[] | undefined;
    for (const reg of targets) {
      if (reg.node !== this.id) {
        remote ??= [];
        remote.push(this.#settings.cluster.deliver(reg.node, reg.session, frame));
      } else if (this.#member.deliver(reg.session, frame)) {
        delivered++;
      }
    }
    if (!remote && !after) return delivered ? this.#accepted(session, m) : this.#holdFor(session, m, frame);
    return Promise.all([Promise.all(remote ?? []), after]).then(
      ([results]) => {
        delivered += results.filter(Boolean).length;
        return delivered ? this.#accepted(session, m) : this.#holdFor(session, m, frame);
      },
      (err) => this.#failed(session, err, 'delivering', m.id),
    );
  }

  /**
   * A message to a group: `subscribe` joins, `unsubscribe` leaves, an update with a `members`
   * body from the owner changes who may join, anything else from a subscriber goes to every
   * other one, encoded once. Groups live on this node.
   */
  #toGroup(session: Session, m: Message): undefined {
    const group = m.to;
    if (m.type === 'subscribe') {
      const refused = this.#groups.join(session, group);
      return refused ? this.#refuse(session, refused, m.id) : this.#accepted(session, m);
    }
    if (m.type === 'unsubscribe') {
      this.#groups.leave(session, group);
      return this.#accepted(session, m);
    }
    if (m.type === 'update' && (m.body.value as { kind?: unknown } | null)?.kind === 'members') {
      const body = m.body.value;
      if (!validateGroupMembersBody(body)) {
        const err = schemaError('members body', validateGroupMembersBody.errors ?? []);
        return this.#refuse(session, err, m.id);
      }
      const refused = this.#groups.members(session, group, body);
      return refused ? this.#refuse(session, refused, m.id) : this.#accepted(session, m);
    }
    const members = this.#groups.subscribers(group);
    if (!members?.has(session)) {
      const err = new ProtoflyError('PF_ERR_FORBIDDEN', `${session.address} is not a member of ${group}`, {
        to: group,
      });
      return this.#refuse(session, err, m.id);
    }
    const frame = msgFrame(m);
    for (const member of members) if (member !== session) this.#member.deliver(member.id, frame);
    return this.#accepted(session, m);
  }

  /** Tells a slow consumer and drops it; returns false: the frame was not delivered to it. */
  #dropSlow(session: Session): false {
    const bytes = session.ws.bufferedAmount;
    const unreceived = session.unreceived?.length ?? 0;
    const { maxBufferedBytes, maxUnreceived } = this.#settings;
    const err = new ProtoflyError(
      'PF_ERR_FLOOD',
      `slow consumer: ${bytes} bytes unsent (bound ${maxBufferedBytes}), ${unreceived} messages not received (bound ${maxUnreceived}); reconnect to get what is held`,
      { buffered: bytes, unreceived },
    );
    this.#refuse(session, err);
    // Closing waits for the buffer to drain; a consumer that does not read must not hold it.
    this.#cut(session, 'PF_ERR_FLOOD', 'PF_ERR_FLOOD slow consumer');
    // Held now (closing, it takes none back), before the frame that found it slow.
    this.#holdAgain(session.takeUnreceived());
    return false;
  }

  #holdFor(session: Session, m: Message, frame: Frame): Promise<void> {
    return this.#settings.cluster.hold(m.to, frame, this.#holdLimits).then(
      () => {
        this.metrics.stored++;
        // A session of the recipient here (one that registered meanwhile) takes it before
        // the sender's next message can reach it.
        this.#takeHeldFor(m.to);
        this.#accepted(session, m);
      },
      (err) => this.#failed(session, err, 'holding', m.id),
    );
  }

  #accepted(session: Session, m: Message): undefined {
    session.ack(m.id);
    this.metrics.acks++;
    this.#cdr?.seen(m);
    return undefined;
  }

  /** Claims hyperty address `h` for `session`: in the user's domain, within the bound, not another user's. */
  async #claim(session: Session, h: string): Promise<boolean> {
    if (session.hyperties.has(h)) return true;
    if (!inDomain(h, session.userDomain!) || session.hyperties.size >= MAX_HYPERTIES) return false;
    const claimed = await this.#settings.location.register(this.#registration(session, h));
    if (claimed && session.open) {
      session.hyperties.add(h);
      this.#addHolder(h, session);
    }
    return claimed;
  }

  #registration(session: Session, address: string): Registration {
    return {
      address,
      owner: session.address!,
      node: this.id,
      session: session.id,
      since: session.since,
      // Renewed every heartbeat: a node that dies stops being routed to a few beats later.
      expires: Date.now() + 3 * this.#settings.heartbeatMs,
    };
  }

  /** Sends what was held for `addresses` to `session`, then what arrived for it meanwhile. */
  async #takeHeld(session: Session, addresses: readonly string[]): Promise<void> {
    session.catchingUp++;
    session.deferred ??= [];
    try {
      for (const address of addresses) {
        const frames = await this.#settings.cluster.release(address);
        if (!session.open) {
          // Gone meanwhile: hold them again for the next session.
          for (const f of frames) await this.#settings.cluster.hold(address, f, this.#holdLimits);
          continue;
        }
        for (const f of frames) session.sendMsg(f);
        this.metrics.messagesOut += frames.length;
      }
    } finally {
      this.#caughtUp(session);
    }
  }

  #caughtUp(session: Session): void {
    if (--session.catchingUp > 0) return;
    const deferred = session.deferred ?? [];
    session.deferred = undefined;
    if (session.open) for (const f of deferred) session.sendMsg(f);
    else this.#holdAgain(deferred);
  }

  /** Frames were held for `address`: its newest session here, if any, takes them now. */
  #takeHeldFor(address: string): void {
    const holders = [...(this.#holders.get(address) ?? [])].filter((s) => s.open);
    const newest = holders.at(-1);
    if (newest) {
      this.#takeHeld(newest, [address]).catch((err: Error) =>
        this.#settings.log.warn({ address, err: err.message }, 'held frames not taken'),
      );
    }
  }

  #addHolder(address: string, session: Session): void {
    const set = this.#holders.get(address);
    if (set) set.add(session);
    else this.#holders.set(address, new Set([session]));
  }

  #removeHolder(address: string, session: Session): void {
    const set = this.#holders.get(address);
    set?.delete(session);
    if (set?.size === 0) this.#holders.delete(address);
  }

  /** The cluster's shared state may be gone (Redis restarted): register again, take what was held meanwhile. */
  async #rejoin(): Promise<void> {
    this.#settings.log.info({ node: this.id }, 'rejoined the cluster: registering sessions again');
    await this.#renew();
    const sessions = [...this.#sessions.values()].filter((s) => s.address && s.open);
    await Promise.all(sessions.map((s) => this.#takeHeld(s, [s.address!, ...s.hyperties]))).catch(
      (err: Error) => this.#settings.log.warn({ err: err.message }, 'held frames not taken after rejoining'),
    );
  }

  /** Renews the registrations of every authenticated session. */
  async #renew(): Promise<void> {
    const { location, log } = this.#settings;
    const renewals: Promise<boolean>[] = [];
    for (const s of this.#sessions.values()) {
      if (!s.address || !s.open) continue;
      for (const a of [s.address, ...s.hyperties]) renewals.push(location.register(this.#registration(s, a)));
    }
    await Promise.all(renewals).catch((err: Error) =>
      log.warn({ err: err.message }, 'registrations not renewed'),
    );
  }

  #unregister(session: Session): void {
    const { location, log } = this.#settings;
    const leaving = Promise.all(
      [session.address!, ...session.hyperties].map((a) => location.unregister(a, session.id)),
    ).then(
      () => undefined,
      (err: Error) => log.warn({ session: session.id, err: err.message }, 'not unregistered'),
    );
    this.#track(leaving);
  }

  /**
   * Holds again, for their recipients, `msg` frames that a session's client will not take: those
   * a client with receipts had not said it took when its connection ended (XEP-0198 §4's
   * unacknowledged stanzas), and those that waited behind held ones when it ended. Their senders
   * had their acks: without this, a client that vanished (a crash, a cut network) would lose
   * what was on its way to it. The holds are issued at once and in order, so that what arrives
   * for the recipient later is held after them. The client may have taken some and not said so
   * yet; its stub drops those as duplicates. Group updates are live only and are not held.
   */
  #holdAgain(frames: readonly Frame[]): void {
    const holds: Promise<void>[] = [];
    for (const frame of frames) {
      const { m } = JSON.parse(typeof frame === 'string' ? frame : Buffer.from(frame).toString()) as MsgFrame;
      if (m.to.startsWith(this.#groupPrefix)) continue;
      holds.push(
        this.#settings.cluster.hold(m.to, frame, this.#holdLimits).then(
          () => {
            this.metrics.stored++;
          },
          (err: Error) => {
            const code = isProtoflyError(err) ? err.code : 'PF_ERR_DELIVERY';
            this.metrics.refuse(code);
            this.#settings.log.warn(
              { to: m.to, id: m.id, code, err: err.message },
              'a message its recipient had not taken could not be held again',
            );
          },
        ),
      );
    }
    if (holds.length) this.#track(Promise.all(holds).then(() => {}));
  }

  /** Work a shutdown waits for. */
  #track(work: Promise<void>): void {
    this.#leaving.add(work);
    void work.then(() => this.#leaving.delete(work));
  }

  /** A service failed on a message's way: the sender is told with a coded error. */
  #failed(session: Session, err: unknown, doing: string, id?: string): undefined {
    const e = isProtoflyError(err)
      ? err
      : new ProtoflyError(
          'PF_ERR_DELIVERY',
          `${doing}${id ? ` message ${id}` : ''} failed: ${(err as Error)?.message ?? String(err)}`,
          { code: 503 },
          { cause: err },
        );
    this.#settings.log.warn({ session: session.id, code: e.code, reason: e.message }, `${doing} failed`);
    this.#refuse(session, e, id);
    return undefined;
  }

  /** Counts a refusal and tells the client, if it can still hear. */
  #refuse(session: Session, err: ProtoflyError, id?: string): undefined {
    this.metrics.refuse(err.code);
    if (!session.open) return;
    session.flushAcks();
    session.send(errFrame(err, id));
    return undefined;
  }

  /** `ws` reports protocol violations here and closes the socket itself (1009 too large, 1002, 1007). */
  #onSocketError(err: Error & { code?: string }): void {
    const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'PF_ERR_TOO_LARGE' : 'PF_ERR_FRAME';
    this.metrics.refuse(code);
    this.#settings.log.info({ code, reason: err.message }, 'connection closed on a bad frame');
  }

  /** Heartbeat: cut peers that missed the last ping, ping the rest, renew registrations. */
  #beat(): void {
    for (const session of this.#sessions.values()) {
      if (!session.alive) {
        this.#settings.log.info({ address: session.address }, 'dead peer cut');
        session.ws.terminate();
        continue;
      }
      session.alive = false;
      session.ws.ping();
    }
    void this.#renew();
  }
}

/** What a lane's messages went to: the sessions (ids unique in the domain), or none (held). */
function laneKey(targets: readonly Registration[]): string {
  return targets.map((r) => r.session).join(' ');
}

function spoof(session: Session, m: Message): ProtoflyError {
  return new ProtoflyError('PF_ERR_SPOOF', `${session.address} may not send as ${m.from}`, { from: m.from });
}

function inDomain(hyperty: string, domain: string): boolean {
  const start = 'hyperty://'.length;
  return hyperty.slice(start, hyperty.indexOf('/', start)) === domain;
}
