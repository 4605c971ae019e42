import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the admin port answers. */
export interface AdminRoutes {
  /** `/health`: 200 while serving, 503 while shutting down. */
  health(): Promise<{ ok: boolean; [fact: string]: unknown }>;
  /** `/metrics`: Prometheus text. */
  metrics(): Promise<string>;
  /** `/provisioning/...`: the provisioning REST API, when the domain serves it. */
  provisioning?(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface AdminServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the health, metrics and provisioning HTTP listener, apart from the client port so it can stay private. */
export async function startAdminServer(
  host: string,
  port: number,
  routes: AdminRoutes,
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    route(req, res, routes).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${err.message}\n`);
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
  if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
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
  res.writeHead(404).end();
}
