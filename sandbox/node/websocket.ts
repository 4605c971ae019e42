import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { batchWrites } from '../../node/write-batch.js';
import type { SocketFactory } from '../sockets.js';

/** Time a WebSocket opening handshake may take. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The Node socket factory, on `ws`: no redirects, no compression, bounded payloads. */
export const openWebSocket: SocketFactory = (url, protocols, events, { maxPayload }) => {
  const ws = new WebSocket(url, [...protocols], {
    followRedirects: false,
    perMessageDeflate: false,
    maxPayload,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  let socket: Socket | undefined;
  ws.on('upgrade', (res) => {
    socket = res.socket;
  });
  ws.on('open', () => events.open(ws.protocol));
  ws.on('message', (data) => events.message(String(data)));
  ws.on('close', (code, reason) => events.close(code, reason.toString()));
  ws.on('error', (err) => events.error(err.message));
  return {
    send: (data) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (socket) batchWrites(socket);
      ws.send(data);
    },
    close: (code, reason) => ws.close(code, reason),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
};
