import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';

/** What the admin port answers. */
export interface AdminRoutes {
  /** `/health`: 200 while serving, 503 while draining (shutting down); answered from the process's own state. */
  health(): Promise<{ ok: boolean; [fact: string]: unknown }>;
  /** `/metrics`: Prometheus text. */
  metrics(): Promise<string>;
  /** `/provisioning/...`: the provisioning REST API, when the domain serves it. */
  provisioning?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** `/addressbook/...`: the address book's REST API, when the domain serves it. */
  addressbook?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** `/policy/...`: the policy REST API, when the domain serves it. */
  policy?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** `/stats/...`: the statistics REST API and page, when the domain serves them. */
  stats?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Where a route's failure is logged. */
  readonly log: Logger;
}

export interface AdminServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the health, metrics, provisioning, address book, policy and statistics HTTP listener, apart from the client port so it
 * can stay private. A refusal is a JSON `{ error: { code, message } }` with its code's status;
 * a failure (a route threw) is a 500 whose cause goes to `routes.log`.
 */
export async function startAdminServer(
  host: string,
  port: number,
  routes: AdminRoutes,
): Promise<AdminServer> {
  const { log } = routes;
  const server: Server = createServer((req, res) => {
    route(req, res, routes).catch((err: unknown) => {
      const e = asProtoflyError(err, 'PF_ERR_INTERNAL');
      if (e.status === 500) log.error({ err, url: req.url }, 'admin request failed');
      if (res.headersSent) return void res.destroy();
      res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Each node's own port, even when node:cluster shares the messaging port among nodes.
    server.listen({ port, host, exclusive: true }, resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, routes: AdminRoutes): Promise<void> {
  if (routes.provisioning && req.url?.startsWith('/provisioning/')) return routes.provisioning(req, res);
  if (routes.addressbook && req.url?.startsWith('/addressbook/')) return routes.addressbook(req, res);
  if (routes.policy && req.url?.startsWith('/policy/')) return routes.policy(req, res);
  if (routes.stats && req.url?.startsWith('/stats/')) return routes.stats(req, res);
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    throw new ProtoflyError('PF_ERR_METHOD', `${req.method} is not allowed; the admin port takes GET`);
  }
  if (req.url === '/health') {
    const health = await routes.health();
    return void res
      .writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' })
      .end(JSON.stringify(health));
  }
  if (req.url === '/metrics') {
    return void res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      .end(await routes.metrics());
  }
  throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${req.url}`);
}
