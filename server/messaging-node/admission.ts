import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { type ErrorCode, isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { AuthFrame } from '../../core/generated/types.js';
import { ClientSession } from './client-session.js';
import { CLOSE, PONG, readClientFrame, readyFrame } from './frames.js';
import type { Groups } from './groups.js';
import type { Holds } from './holds.js';
import type { NodeSettings } from './options.js';
import type { Presence } from './presence.js';
import type { Replies } from './replies.js';
import type { Routing } from './routing.js';

/**
 * Admission: who gets a connection, who keeps it, and the entry of every frame.
 *
 * A client authenticates with its first frame, `{t:'auth', token}`: a JWT from the user's home
 * domain for this node's domain (in a frame rather than the URL, so tokens stay out of access
 * logs and browsers need no custom headers). The connection is then bound to the verified user
 * address (its ClientSession) and registered (presence.ts). Connections not yet authenticated
 * are bounded apart (maxPendingAuth, and per remote address) and get authTimeoutMs to
 * authenticate; only authenticated ones count against maxConnections.
 *
 * No input stops the node: a frame's nesting is bounded before it is parsed (maxJsonDepth), and
 * so are the bytes a connection has parsed a second (bytesPerSecond: past them its socket is
 * not read for a while, see ClientSession.read); whatever still throws while a session's frame
 * is handled (parsed, checked, routed, encoded, delivered, fanned out, received) closes that
 * session alone (1011, PF_ERR_INTERNAL), counted and logged.
 */
export class Admission {
  readonly #settings: NodeSettings;
  readonly #replies: Replies;
  readonly #holds: Holds;
  readonly #groups: Groups;
  readonly #presence: Presence;
  readonly #routing: Routing;
  /** Every open connection, by session id; read by the other parts, written only here. */
  readonly #sessions: Map<string, ClientSession>;
  /** Connections authenticated now: what maxConnections bounds. */
  #authenticated = 0;
  /** Connections not yet authenticated, in all and by remote address. */
  #pending = 0;
  readonly #pendingFrom = new Map<string, number>();
  /** The remote address each connection not yet authenticated counts under. */
  readonly #pendingOf = new Map<ClientSession, string>();
  /** Connections whose token is being verified. */
  readonly #verifying = new Set<ClientSession>();
  /** Shutting down: no connection, frame or authentication is taken any more. */
  #closing = false;
  #nextSession = 0;

  constructor(
    settings: NodeSettings,
    replies: Replies,
    holds: Holds,
    groups: Groups,
    presence: Presence,
    routing: Routing,
    sessions: Map<string, ClientSession>,
  ) {
    this.#settings = settings;
    this.#replies = replies;
    this.#holds = holds;
    this.#groups = groups;
    this.#presence = presence;
    this.#routing = routing;
    this.#sessions = sessions;
  }

  /** Open connections not yet authenticated. */
  get pending(): number {
    return this.#pending;
  }

  /** A client connected: it is admitted (to authenticate within authTimeoutMs) or refused (1013). */
  connect(ws: WebSocket, socket: Socket): void {
    const { messagesPerSecond, burst, bytesPerSecond, authTimeoutMs, ackDelayMs, closeGraceMs } =
      this.#settings;
    if (this.#closing) return ws.close(CLOSE.SERVICE_RESTART, 'service restart');
    const session = new ClientSession(
      ws,
      socket,
      `${this.#settings.cluster.node}.${++this.#nextSession}`,
      { messagesPerSecond, burst, bytesPerSecond },
      ackDelayMs,
      closeGraceMs,
      (s, err) => this.#contain(s, err),
    );
    ws.on('error', (err) => this.#onSocketError(err));
    const from = socket.remoteAddress ?? '';
    const full = this.#full() ?? this.#pendingFull(from);
    if (full) {
      this.#replies.refuse(session, full);
      return this.#cut(session, 'PF_ERR_FLOOD');
    }
    this.#sessions.set(session.id, session);
    this.#pending++;
    this.#pendingFrom.set(from, (this.#pendingFrom.get(from) ?? 0) + 1);
    this.#pendingOf.set(session, from);
    const authTimer = setTimeout(() => {
      if (session.address) return;
      try {
        this.#replies.refuse(
          session,
          new ProtoflyError('PF_ERR_TIMEOUT', `not authenticated within ${authTimeoutMs} ms`),
        );
        // Even one closing already (a bad frame): a peer that does not finish closing keeps no slot.
        this.#cut(session, 'PF_ERR_TIMEOUT');
      } catch (err) {
        session.fail(err);
      }
    }, authTimeoutMs);
    ws.on('close', () => {
      clearTimeout(authTimer);
      session.closed();
      try {
        this.#closed(session);
      } catch (err) {
        session.fail(err);
      }
    });
    // The guard of every frame: whatever its handling throws ends this session, not the node.
    ws.on('message', (data, isBinary) => {
      try {
        // Charged before it is parsed: what parsing costs follows the bytes.
        if (session.read(Buffer.isBuffer(data) ? data.length : 0)) this.#replies.metrics.readPauses++;
        this.#onFrame(session, data, isBinary);
      } catch (err) {
        session.fail(err);
      }
    });
  }

  /**
   * Graceful shutdown: no more connections or frames are taken; every client is told to
   * reconnect (1012, after its pending acks), and cut if it does not finish closing within
   * `graceMs`. Resolves once every connection closed.
   */
  async closeAll(graceMs: number): Promise<void> {
    this.#closing = true;
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
    }, graceMs);
    await Promise.all(closed);
    clearTimeout(grace);
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
  #settlePending(session: ClientSession): void {
    const from = this.#pendingOf.get(session);
    if (from === undefined) return;
    this.#pendingOf.delete(session);
    this.#pending--;
    const n = this.#pendingFrom.get(from)! - 1;
    if (n === 0) this.#pendingFrom.delete(from);
    else this.#pendingFrom.set(from, n);
  }

  /** Closes `session` for `code` (see ClientSession.cut); a connection authenticating gives back its slot now. */
  #cut(session: ClientSession, code: ErrorCode): void {
    this.#settlePending(session);
    session.cut(code);
  }

  /** The connection closed: what it held is let go, what was bound for it is held for its user. */
  #closed(session: ClientSession): void {
    this.#settlePending(session);
    session.flushAcks();
    this.#sessions.delete(session.id);
    if (!session.address) return;
    this.#authenticated--;
    this.#holds.closed(session);
    this.#groups.leaveAll(session);
    this.#presence.unregister(session);
  }

  #onFrame(session: ClientSession, data: RawData, isBinary: boolean): void {
    // Once closing, nothing is taken: the sender gets no ack and resends after reconnecting.
    if (!session.open || this.#closing) return;
    let frame: ReturnType<typeof readClientFrame>;
    try {
      frame = readClientFrame(data, isBinary, this.#settings.maxJsonDepth);
    } catch (err) {
      const e = err as ProtoflyError;
      // Junk takes from the same budget as messages; past it, it is dropped unanswered.
      if (!session.bucket.take()) return this.#replies.metrics.refuse('PF_ERR_FLOOD');
      return this.#replies.refuse(session, e, e.detail.id as string | undefined);
    }
    if (frame.t === 'ping') return this.#pong(session);
    if (frame.t === 'auth') return void this.#authenticate(session, frame).catch(session.fail);
    if (frame.t === 'received') return this.#holds.receipt(session, frame.n);
    this.#replies.metrics.messagesIn++;
    if (!session.address) {
      const err = new ProtoflyError('PF_ERR_AUTH', `message ${frame.m.id} sent before authenticating`);
      return this.#replies.refuse(session, err, frame.m.id);
    }
    this.#routing.receive(session, frame.m);
  }

  /**
   * Contains a failure in handling `session`'s frames (a bug, or input that got past the
   * checks), once per session (ClientSession.fail): the session is told, closed (1011) and
   * counted; the node serves on.
   */
  #contain(session: ClientSession, err: unknown): void {
    this.#replies.metrics.contained++;
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
      this.#replies.refuse(session, e);
      this.#cut(session, 'PF_ERR_INTERNAL');
    } catch {
      session.ws.terminate(); // it cannot even be told
    }
  }

  /** A client checks the node is there: answered at once, within the session's rate like any frame. */
  #pong(session: ClientSession): void {
    if (session.bucket.take()) session.send(PONG);
    else this.#replies.metrics.refuse('PF_ERR_FLOOD');
  }

  /**
   * Verifies the `auth` frame's token and binds the session: refused with 4401 (PF_ERR_AUTH),
   * 4403 (PF_ERR_FORBIDDEN: domain not admitted), or 1013 (issuer's keys unreachable, node
   * full). Then the session registers, claims the hyperty addresses asked, gets `ready`, and
   * takes what was held for it before anything else reaches it.
   */
  async #authenticate(session: ClientSession, frame: AuthFrame): Promise<void> {
    if (session.address || this.#verifying.has(session)) {
      return this.#replies.refuse(
        session,
        new ProtoflyError('PF_ERR_FRAME', 'already authenticated: one auth frame only'),
      );
    }
    this.#verifying.add(session);
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
      this.#replies.refuse(session, e);
      this.#settings.log.info({ code: e.code, reason: e.message }, 'connection refused');
      return this.#cut(session, e.code);
    } finally {
      this.#verifying.delete(session);
    }
    if (!session.open || this.#closing) return;
    const full = this.#full();
    if (full) {
      this.#replies.refuse(session, full);
      return this.#cut(session, 'PF_ERR_FLOOD');
    }
    this.#settlePending(session);
    this.#authenticated++;
    session.bind(address, frame.receipts === true);
    // Whatever reaches the session from now on waits until what was held for it is out.
    session.catchUp();
    this.#holds.addHolder(address, session);
    try {
      await this.#presence.register(session);
      const granted: string[] = [];
      for (const h of frame.hyperties ?? []) if (await this.#presence.claim(session, h)) granted.push(h);
      if (!session.open) return;
      session.send(readyFrame(address, granted));
      await this.#holds.takeHeld(session, [address, ...granted]);
      this.#settings.log.debug({ address, hyperties: granted }, 'session ready');
    } catch (err) {
      this.#replies.failed(session, err, 'registering');
    } finally {
      this.#holds.caughtUp(session);
    }
  }

  /** `ws` reports protocol violations here and closes the socket itself (1009 too large, 1002, 1007). */
  #onSocketError(err: Error & { code?: string }): void {
    const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'PF_ERR_TOO_LARGE' : 'PF_ERR_FRAME';
    this.#replies.metrics.refuse(code);
    this.#settings.log.info({ code, reason: err.message }, 'connection closed on a bad frame');
  }
}
