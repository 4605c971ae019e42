import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { TOKEN_PATH } from '../identity/token-endpoint.js';
import { PageOrigins } from '../page-origins.js';
import { policyApi } from '../policy/policy-api.js';
import type { ClusterMember } from '../services/service.js';
import { statsApi } from '../stats/stats-api.js';
import { addressBookApi } from './addressbook-api.js';
import { adminGate } from './admin-api.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import type { Admission } from './admission.js';
import type { CdrRecorder } from './cdr-recorder.js';
import type { ClientSession } from './client-session.js';
import type { Directory } from './directory.js';
import { PROTOCOL } from './frames.js';
import { heldCount } from './held-count.js';
import type { Holds } from './holds.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeSettings } from './options.js';
import type { Outstanding } from './outstanding.js';
import type { Presence } from './presence.js';
import { provisioningApi } from './provisioning-api.js';
import type { Routing } from './routing.js';

/** The parts the lifecycle starts, beats and stops. */
export interface LifecycleParts {
  readonly metrics: NodeMetrics;
  readonly admission: Admission;
  readonly routing: Routing;
  readonly holds: Holds;
  readonly presence: Presence;
  /** Every open connection, by session id (admission's). */
  readonly sessions: ReadonlyMap<string, ClientSession>;
  readonly cdr: CdrRecorder | undefined;
  readonly outstanding: Outstanding;
  readonly directory: Directory | undefined;
}

/**
 * The node's life: its listeners (WebSocket with the token endpoint beside it, and the admin
 * port), its membership of the cluster, the heartbeat, and the graceful shutdown. A WebSocket
 * upgrade from a page whose origin the domain does not allow is refused before any connection
 * exists: 403 with the coded error as JSON, and a log line (a browser shows the page only a
 * failed WebSocket).
 *
 * The heartbeat (heartbeatMs) cuts peers that missed the last ping, pings the rest and renews
 * every session's bindings, so a node that dies stops being routed to a few beats later.
 * When the cluster's shared state may be gone (Redis restarted), every session registers again
 * and takes what was held meanwhile. A shutdown drains: /health says `draining` (503) so a
 * balancer sends no new connections, the client port stops accepting (a balancer sends a refused
 * connection to another host), clients are told to reconnect (1012), then it waits for their
 * connections (at most shutdownGraceMs), the work they left, and the listeners.
 */
export class Lifecycle {
  readonly #settings: NodeSettings;
  readonly #parts: LifecycleParts;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #pages: PageOrigins;
  #admin: AdminServer | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;
  #port = 0;

  constructor(settings: NodeSettings, parts: LifecycleParts) {
    this.#settings = settings;
    this.#parts = parts;
    this.#http = createServer((req, res) => {
      if (settings.tokenEndpoint && req.url?.split('?')[0] === TOKEN_PATH) {
        void settings.tokenEndpoint(req, res);
        return;
      }
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end(`json-ws: open a WebSocket with subprotocol ${PROTOCOL}\n`);
    });
    this.#pages = new PageOrigins(settings.origins, `the messaging node of ${settings.domain}`);
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: settings.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
    // listen() reports the errors of listening (a port in use); without a listener here each
    // would also be an uncaught exception.
    this.#http.on('error', (err) => {
      if (this.#port) settings.log.error({ err }, 'messaging node listener error');
    });
  }

  /** A WebSocket handshake: refused (403) for a page of an origin not allowed, else ws's. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const origin = req.headers.origin;
    if (this.#pages.allows(origin)) {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#parts.admission.connect(ws, req.socket));
      return;
    }
    const { code, message } = this.#pages.refusal(origin!);
    this.#parts.metrics.refuse(code);
    this.#settings.log.info(
      { code, origin, from: req.socket.remoteAddress },
      'WebSocket refused: page origin not allowed',
    );
    const body = JSON.stringify({ error: { code, message } });
    // A peer that resets meanwhile is nothing to report; it must not be an uncaught error.
    socket.on('error', () => socket.destroy());
    socket.end(
      `HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  /** The WebSocket port, once listening. */
  get port(): number {
    return this.#port;
  }

  /** The admin server's URL, once listening. */
  get adminUrl(): string {
    return this.#admin!.url;
  }

  /** Joins the cluster and takes both ports; a node that cannot take both keeps neither. */
  async listen(): Promise<void> {
    const {
      host,
      port,
      adminPort,
      heartbeatMs,
      log,
      cluster,
      identity,
      provisioning,
      addressBook,
      policy,
      domain,
    } = this.#settings;
    const cdrService = this.#settings.cdr?.service;
    const { metrics, admission, sessions, cdr } = this.#parts;
    const held = heldCount(cluster);
    await cluster.join(this.#member);
    // Rules another node shared before this one started (a PUT since the config was read).
    const shared = await cluster.sharedPolicy();
    if (shared !== undefined) this.#takePolicy(shared);
    await cdr?.start();
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
      // One gate for every API of the port, so failed sign-ins are limited port-wide.
      const gate = provisioning && adminGate(provisioning, identity);
      this.#admin = await startAdminServer(host, adminPort, {
        // Draining (shutting down) is a 503: the balancer in front stops sending this node new
        // connections while its clients move to other hosts. From this process alone, never
        // waiting on Redis: a balancer checks it every few hundred milliseconds and cuts the
        // sessions of a host it marks down, and a Redis failover must not mark every host down.
        health: async () => ({
          ok: !this.#closing,
          status: this.#closing ? 'draining' : 'serving',
          domain,
          node: cluster.node,
          connections: sessions.size,
        }),
        metrics: async () =>
          metrics.render({
            connections: sessions.size,
            pendingAuth: admission.pending,
            storedNow: await held(),
          }),
        ...(gate ? { provisioning: provisioningApi(provisioning!, gate, log) } : {}),
        ...(gate && addressBook ? { addressbook: addressBookApi(addressBook, gate, log) } : {}),
        ...(gate
          ? { policy: policyApi(policy, gate, log, (rules) => cluster.sharePolicy(JSON.stringify(rules))) }
          : {}),
        ...(gate && cdrService
          ? {
              stats: statsApi({ domain, cdr: cdrService, policy, refused: metrics.refused }, gate, log),
            }
          : {}),
        log,
      });
    } catch (err) {
      await new Promise((resolve) => this.#http.close(resolve));
      await cdr?.close();
      throw err;
    }
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    log.info(
      { domain, node: cluster.node, url: `ws://${host}:${this.#port}/`, admin: this.adminUrl },
      'messaging node listening',
    );
  }

  /** Graceful shutdown, once however often asked. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { shutdownGraceMs, log, domain, cluster } = this.#settings;
    clearInterval(this.#heartbeat);
    const listening = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    await this.#parts.admission.closeAll(shutdownGraceMs);
    this.#wss.close();
    await listening;
    await this.#parts.outstanding.settled();
    await this.#parts.cdr?.close();
    this.#parts.directory?.close();
    await this.#admin?.close();
    log.info({ domain, node: cluster.node }, 'messaging node closed');
  }

  /** What the other nodes of the cluster reach this one through. */
  readonly #member: ClusterMember = {
    deliver: (id, frame, taken, heldFirst) => this.#parts.routing.deliverHere(id, frame, taken, heldFirst),
    held: (address) => this.#parts.holds.takeHeldFor(address),
    rejoined: () => void this.#rejoin(),
    policy: (rules) => this.#takePolicy(rules),
  };

  /**
   * Puts in force the policy rules a node of the domain shared (this one's own PUT comes back
   * the same, already in force). Another node compiled them before sharing; should this one
   * refuse them still (another version of protofly), it keeps its own and says so.
   */
  #takePolicy(rules: string): void {
    const { policy, log } = this.#settings;
    if (JSON.stringify(policy.rules) === rules) return;
    try {
      const taken = policy.replace(JSON.parse(rules));
      log.info(
        { rules: taken.rules?.length ?? 0 },
        'policy rules shared by a node of the domain put in force',
      );
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'policy rules shared by a node of the domain refused');
    }
  }

  /** Heartbeat: cut peers that missed the last ping, ping the rest, renew bindings. */
  #beat(): void {
    const { sessions, presence } = this.#parts;
    for (const session of sessions.values()) {
      if (session.beat()) continue;
      this.#settings.log.info({ address: session.address }, 'dead peer cut');
      session.ws.terminate();
    }
    void presence.renew(sessions.values());
  }

  /**
   * The cluster's shared state may be gone (Redis restarted): register again, take what was
   * held meanwhile. Each session starts catching up before it is findable again, so a frame
   * another node sends it once it is, waits behind what was held before.
   */
  async #rejoin(): Promise<void> {
    const { log, cluster } = this.#settings;
    const { sessions, presence, holds } = this.#parts;
    log.info({ node: cluster.node }, 'rejoined the cluster: registering sessions again');
    const open = [...sessions.values()].filter((s) => s.address && s.open);
    for (const s of open) s.catchUp();
    try {
      await presence.renew(sessions.values());
      await Promise.all(open.map((s) => holds.takeHeld(s, [s.address!, ...s.hyperties])));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'held frames not taken after rejoining');
    } finally {
      for (const s of open) holds.caughtUp(s);
    }
  }
}
