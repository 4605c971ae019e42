import WebSocket from 'ws';
import { GUEST_SUBPROTOCOL } from '../../core/guest-protocol.js';

/** What a guest service answered one request: its frame, if any, and how it closed. */
export type GuestAnswer = { frame?: Record<string, unknown>; close: number; reason: string };

/** Sends one text to a guest service (core/guest-protocol.ts) and resolves with what it answered and how it closed. */
export function askGuest(url: string, text: string): Promise<GuestAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, GUEST_SUBPROTOCOL);
    let frame: Record<string, unknown> | undefined;
    ws.on('open', () => ws.send(text));
    ws.on('message', (data) => {
      frame = JSON.parse(String(data));
    });
    ws.on('close', (close, reason) =>
      resolve({ ...(frame ? { frame } : {}), close, reason: String(reason) }),
    );
    ws.on('error', reject);
  });
}
