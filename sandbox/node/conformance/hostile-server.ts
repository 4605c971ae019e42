import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A WebSocket server on loopback that plays the stub's server just enough to bring it live
 * (`reply` answers what the stub sends), then sends whatever the test hands it: the hostile
 * server of the conformance suite.
 */
export interface HostileServer {
  /** `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Every frame the stub sent, as text. */
  readonly heard: string[];
  /** Sends a frame to every stub connected: text, or bytes as a binary frame. */
  send(frame: string | Uint8Array): void;
  close(): Promise<void>;
}

/** The part of the server the stub's own protocol decides. */
export interface HostileScript {
  /** The subprotocol the server agrees to (it takes the stub's first offer when undefined). */
  readonly protocol?: string;
  /** The frames to answer one frame of the stub's with (its handshake, its registration). */
  reply(frame: string): readonly string[];
}

/** Starts a hostile server on a free loopback port, following `script` until the test takes over. */
export async function startHostileServer(script: HostileScript): Promise<HostileServer> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (offered) => script.protocol ?? [...offered][0] ?? false,
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  const heard: string[] = [];
  const peers = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    peers.add(ws);
    ws.on('close', () => peers.delete(ws));
    ws.on('message', (data) => {
      const text = String(data);
      heard.push(text);
      for (const frame of script.reply(text)) ws.send(frame);
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    heard,
    send: (frame) => {
      for (const ws of peers) ws.send(frame, { binary: typeof frame !== 'string' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
