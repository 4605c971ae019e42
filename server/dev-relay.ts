import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * `protofly dev`'s window on a stub's wire: a WebSocket relay on loopback between the stubs
 * (which the dev domain's descriptor points at it) and the protocol's server. Every connection
 * is relayed frame for frame, subprotocol and close code included, and reported, so that the
 * terminal shows each message into and out of the stub.
 */

/** What the relay saw, in order. `connection` numbers the stubs' connections from 1. */
export type RelayEvent =
  | { readonly kind: 'open'; readonly connection: number }
  | {
      readonly kind: 'frame';
      readonly connection: number;
      /** `out`: from the stub to the server; `in`: from the server to the stub. */
      readonly direction: 'out' | 'in';
      readonly data: string;
    }
  | { readonly kind: 'close'; readonly connection: number; readonly code: number; readonly reason: string };

export interface Relay {
  /** Where stubs connect: `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Largest frame relayed: a development tool's bound, far above what a line protocol sends. */
const MAX_FRAME_BYTES = 1024 * 1024;

/** Starts a relay to `upstream` (ws:// or wss://) on loopback. */
export async function startRelay(options: {
  readonly upstream: string;
  readonly onEvent: (event: RelayEvent) => void;
  readonly host?: string;
}): Promise<Relay> {
  const host = options.host ?? '127.0.0.1';
  const wss = new WebSocketServer({ host, port: 0, maxPayload: MAX_FRAME_BYTES });
  await once(wss, 'listening');
  let connections = 0;
  wss.on('connection', (client, req) => {
    const connection = ++connections;
    const report = options.onEvent;
    const protocols = req.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()) ?? [];
    const server = new WebSocket(options.upstream, protocols, { maxPayload: MAX_FRAME_BYTES });
    // What the stub sends before the server's socket is open waits, in order.
    const early: string[] = [];
    report({ kind: 'open', connection });
    client.on('message', (data) => {
      const text = data.toString();
      report({ kind: 'frame', connection, direction: 'out', data: text });
      if (server.readyState === WebSocket.OPEN) server.send(text);
      else early.push(text);
    });
    server.on('open', () => {
      for (const text of early.splice(0)) server.send(text);
    });
    server.on('message', (data) => {
      const text = data.toString();
      report({ kind: 'frame', connection, direction: 'in', data: text });
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    server.on('close', (code, reason) => {
      report({ kind: 'close', connection, code, reason: reason.toString() });
      closeWith(client, code, reason.toString());
    });
    // The server unreachable: the stub sees its socket close, as it would without the relay.
    server.on('error', () => closeWith(client, 1011, 'the server is unreachable'));
    client.on('close', (code, reason) => closeWith(server, code, reason.toString()));
    client.on('error', () => server.terminate());
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://${host}:${port}/`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((done) => wss.close(() => done()));
    },
  };
}

/** Closes `ws` passing a close code on where one may be sent (1005 and 1006 are only ever received). */
function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
  const sendable =
    code === 1000 ||
    (code >= 3000 && code <= 4999) ||
    (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006);
  // 40 UTF-16 units are at most 120 bytes: under the 123 a close reason may have.
  ws.close(sendable ? code : 1000, reason.slice(0, 40));
}
