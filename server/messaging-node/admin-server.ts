import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the admin port answers. */
export interface AdminRoutes {
  /** `/health`: 200 while serving, 503 while shutting down. */
  health(): { ok: boolean; [fact: string]: unknown };
  /** `/metrics`: Prometheus text. */
  metrics(): string;
}

export interface AdminServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the health and metrics HTTP listener, apart from the client port so it can stay private. */
export async function startAdminServer(
  host: string,
  port: number,
  routes: AdminRoutes,
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    if (req.url === '/health') {
      const health = routes.health();
      return void res
        .writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(health));
    }
    if (req.url === '/metrics') {
      return void res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(routes.metrics());
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
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
