import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { AuthFrame, Message } from '../../core/generated/types.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import { errFrame, msgFrame, PROTOCOL, readClientFrame, readyFrame } from './frames.js';
import { NodeMetrics } from './metrics.js';
import { OfflineStore } from './offline-store.js';
import { type MessagingNodeOptions, type NodeSettings, settingsOf } from './options.js';
import { Registry } from './registry.js';
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
 * `hyperty://` ones to the one session bound to the address; with no session, they are kept
 * for a while. Every message is answered once, by its id in an `ack` or an `err`, in order.
 *
 * Close codes: 1012 shutdown (reconnect), 1013 try again later (node full, issuer's keys
 * unreachable), 1009 frame too large, 1008 no `auth` in time, 4401 token refused
 * (PF_ERR_AUTH), 4403 domain not admitted (PF_ERR_FORBIDDEN).
 */
export interface MessagingNode {
  /** Where clients connect: `ws://<host>:<port>/`. */
  readonly url: string;
  readonly port: number;
  /** Health and metrics: `http://<host>:<adminPort>`. */
  readonly adminUrl: string;
  readonly metrics: NodeMetrics;
  /** Open connections, authenticated or not. */
  readonly connections: number;
  /** Graceful shutdown: clients are told to reconnect (1012), then the listeners close. */
  close(): Promise<void>;
}

/** Close codes the node uses beyond RFC 6455's. */
export const CLOSE = {
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  POLICY: 1008,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
} as const;

/** Starts a messaging node on its WebSocket and admin ports. */
export async function startMessagingNode(options: MessagingNodeOptions): Promise<MessagingNode> {
  const node = new Node(settingsOf(options));
  await node.listen();
  return node;
}

class Node implements MessagingNode {
  readonly metrics = new NodeMetrics();
  readonly #settings: NodeSettings;
  readonly #sessions = new Set<Session>();
  readonly #registry: Registry;
  readonly #store: OfflineStore;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  #admin: AdminServer | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;
  #port = 0;

  constructor(settings: NodeSettings) {
    this.#settings = settings;
    const ttlMs = settings.offlineTtlSeconds * 1000;
    this.#registry = new Registry(ttlMs);
    this.#store = new OfflineStore({
      perAddress: settings.offlineMessages,
      total: settings.offlineTotal,
      ttlMs,
    });
    this.#http = createServer((_req, res) => {
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
    this.#wss.on('connection', (ws) => this.#onConnection(ws));
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

  async listen(): Promise<void> {
    const { host, port, adminPort, heartbeatMs, log } = this.#settings;
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, resolve);
    });
    this.#port = (this.#http.address() as AddressInfo).port;
    this.#admin = await startAdminServer(host, adminPort, {
      health: () => ({
        ok: !this.#closing,
        domain: this.#settings.domain,
        connections: this.#sessions.size,
        stored: this.#store.size,
      }),
      metrics: () => this.metrics.render({ connections: this.#sessions.size, storedNow: this.#store.size }),
    });
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    log.info(
      { domain: this.#settings.domain, url: this.url, admin: this.adminUrl },
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
    const closed = [...this.#sessions].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.ws.once('close', () => resolve());
          s.flushAcks(); // fewer messages for the clients to resend
          s.ws.close(CLOSE.SERVICE_RESTART, 'service restart');
        }),
    );
    const grace = setTimeout(() => {
      for (const s of this.#sessions) s.ws.terminate();
    }, shutdownGraceMs);
    await Promise.all(closed);
    clearTimeout(grace);
    this.#wss.close();
    await listening;
    await this.#admin?.close();
    log.info({ domain: this.#settings.domain }, 'messaging node closed');
  }

  #onConnection(ws: WebSocket): void {
    const { messagesPerSecond, burst, maxConnections, authTimeoutMs, ackDelayMs } = this.#settings;
    if (this.#closing) return ws.close(CLOSE.SERVICE_RESTART, 'service restart');
    const session = new Session(ws, messagesPerSecond, burst, ackDelayMs);
    ws.on('error', (err) => this.#onSocketError(err));
    if (this.#sessions.size >= maxConnections) {
      const full = new ProtoflyError('PF_ERR_FLOOD', `node is at its limit of ${maxConnections} connections`);
      this.#refuse(session, full);
      return ws.close(CLOSE.TRY_AGAIN_LATER, 'PF_ERR_FLOOD');
    }
    this.#sessions.add(session);
    const authTimer = setTimeout(() => {
      if (session.address) return;
      this.#refuse(session, new ProtoflyError('PF_ERR_AUTH', `no auth frame within ${authTimeoutMs} ms`));
      ws.close(CLOSE.POLICY, 'PF_ERR_AUTH');
    }, authTimeoutMs);
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('close', () => {
      clearTimeout(authTimer);
      session.flushAcks();
      this.#sessions.delete(session);
      if (session.address) this.#registry.remove(session, performance.now());
    });
    ws.on('message', (data, isBinary) => this.#onFrame(session, data, isBinary));
  }

  #onFrame(session: Session, data: RawData, isBinary: boolean): void {
    // Once closing, nothing is taken: the sender gets no ack and resends after reconnecting.
    if (session.ws.readyState !== WebSocket.OPEN || this.#closing) return;
    let frame: ReturnType<typeof readClientFrame>;
    try {
      frame = readClientFrame(data, isBinary);
    } catch (err) {
      const e = err as ProtoflyError;
      // Junk takes from the same budget as messages; past it, it is dropped unanswered.
      if (!session.bucket.take()) return this.metrics.refuse('PF_ERR_FLOOD');
      return this.#refuse(session, e, e.detail.id as string | undefined);
    }
    if (frame.t === 'auth') return void this.#authenticate(session, frame);
    this.metrics.messagesIn++;
    if (!session.address) {
      const err = new ProtoflyError('PF_ERR_AUTH', `message ${frame.m.id} sent before authenticating`);
      return this.#refuse(session, err, frame.m.id);
    }
    this.#route(session, frame.m);
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
      const code =
        e.code === 'PF_ERR_FORBIDDEN'
          ? CLOSE.FORBIDDEN
          : e.code === 'PF_ERR_FETCH'
            ? CLOSE.TRY_AGAIN_LATER
            : CLOSE.UNAUTHORIZED;
      this.#settings.log.info({ code: e.code, reason: e.message }, 'connection refused');
      return session.ws.close(code, e.code);
    } finally {
      session.authenticating = false;
    }
    if (session.ws.readyState !== WebSocket.OPEN || this.#closing) return;
    session.bind(address);
    this.#registry.add(session);
    const granted = (frame.hyperties ?? []).filter((h) => this.#registry.claim(session, h));
    session.send(readyFrame(address, granted));
    for (const a of [address, ...granted]) this.#deliverStored(session, a);
    this.#settings.log.debug({ address, hyperties: granted }, 'session ready');
  }

  #route(session: Session, m: Message): void {
    const now = performance.now();
    if (!session.bucket.take(now)) {
      const { messagesPerSecond } = this.#settings;
      const err = new ProtoflyError(
        'PF_ERR_FLOOD',
        `${session.address} is over ${messagesPerSecond} messages/s; message ${m.id} refused`,
        { limit: messagesPerSecond },
      );
      return this.#refuse(session, err, m.id);
    }
    if (m.from !== session.address) {
      const claim = m.from.startsWith('hyperty://') ? this.#registry.claim(session, m.from) : false;
      if (!claim) {
        const err = new ProtoflyError('PF_ERR_SPOOF', `${session.address} may not send as ${m.from}`, {
          from: m.from,
        });
        return this.#refuse(session, err, m.id);
      }
      if (claim === 'claimed') this.#deliverStored(session, m.from);
    }
    let targets: readonly Session[] | undefined;
    if (m.to.startsWith('user://')) {
      targets = this.#registry.sessionsOf(m.to);
    } else if (m.to.startsWith('hyperty://')) {
      const one = this.#registry.sessionOf(m.to);
      targets = one && [one];
    } else {
      const err = new ProtoflyError(
        'PF_ERR_NO_ROUTE',
        `${m.to}: a node routes user:// and hyperty:// addresses`,
        {
          to: m.to,
        },
      );
      return this.#refuse(session, err, m.id);
    }
    const frame = msgFrame(m);
    if (targets) {
      for (const target of targets) target.send(frame);
      this.metrics.messagesOut += targets.length;
    } else {
      try {
        this.#store.put(m.to, frame, now);
      } catch (err) {
        return this.#refuse(session, err as ProtoflyError, m.id);
      }
      this.metrics.stored++;
    }
    session.ack(m.id);
    this.metrics.acks++;
  }

  #deliverStored(session: Session, address: string): void {
    const frames = this.#store.take(address, performance.now());
    for (const frame of frames) session.send(frame);
    this.metrics.messagesOut += frames.length;
  }

  /** Counts a refusal and tells the client, if it can still hear. */
  #refuse(session: Session, err: ProtoflyError, id?: string): void {
    this.metrics.refuse(err.code);
    if (session.ws.readyState !== WebSocket.OPEN) return;
    session.flushAcks();
    session.send(errFrame(err, id));
  }

  /** `ws` reports protocol violations here and closes the socket itself (1009 too large, 1002, 1007). */
  #onSocketError(err: Error & { code?: string }): void {
    const code = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'PF_ERR_TOO_LARGE' : 'PF_ERR_FRAME';
    this.metrics.refuse(code);
    this.#settings.log.info({ code, reason: err.message }, 'connection closed on a bad frame');
  }

  /** Heartbeat: cut peers that missed the last ping, ping the rest, expire what is kept. */
  #beat(): void {
    for (const session of this.#sessions) {
      if (!session.alive) {
        this.#settings.log.info({ address: session.address }, 'dead peer cut');
        session.ws.terminate();
        continue;
      }
      session.alive = false;
      session.ws.ping();
    }
    const now = performance.now();
    this.#store.sweep(now);
    this.#registry.sweep(now);
  }
}
