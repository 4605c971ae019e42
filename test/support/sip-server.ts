import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { parse, type SipRequest, serialize } from '../../plugins/stubs/sip-ws/message/index.js';
import { createResponse } from '../../plugins/stubs/sip-ws/user-agent-core/responses.js';

/**
 * A scripted SIP-over-WebSocket server (RFC 7118, subprotocol `sip`): it registers whoever
 * sends REGISTER (200, no challenge) and does nothing else on its own; the test sends what it
 * wants, well-formed or not, and answers requests itself.
 */
export interface ScriptedSipServer {
  readonly url: string;
  /** Every frame the client sent, as text. */
  readonly heard: string[];
  /** Sends a text frame, or a binary one for bytes, on the latest connection. */
  send(frame: string | Uint8Array): void;
  /** Resolves with the `nth` (from 0) request of `method` the client sent, once it came. */
  request(method: string, nth?: number): Promise<SipRequest>;
  /** Answers `request` with `status` on the latest connection. */
  reply(request: SipRequest, status: number): void;
  /** Closes the latest connection, as a server going away would. */
  drop(): void;
  /** Whether REGISTER is answered: while false, REGISTERs wait (the client stays unregistered). */
  registering: boolean;
  close(): Promise<void>;
}

export async function scriptedSipServer(): Promise<ScriptedSipServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'sip' });
  await new Promise((r) => wss.once('listening', r));
  const heard: string[] = [];
  const requests: SipRequest[] = [];
  const waiters = new Set<() => void>();
  const waitingRegisters: { ws: WsSocket; req: SipRequest }[] = [];
  let peer: WsSocket | undefined;
  let registering = true;
  const register = (ws: WsSocket, req: SipRequest) => {
    const ok = createResponse(req, 200, { toTag: 'reg' });
    ok.headers.append('Contact', `${req.headers.get('Contact')}`);
    ws.send(serialize(ok) as string);
  };
  wss.on('connection', (ws) => {
    peer = ws;
    ws.on('message', (data) => {
      const text = String(data);
      heard.push(text);
      if (!/^[A-Z]+ /.test(text)) return;
      const req = parse(text) as SipRequest;
      if (req.method !== 'REGISTER') {
        requests.push(req);
        for (const w of [...waiters]) w();
      } else if (registering) register(ws, req);
      else waitingRegisters.push({ ws, req });
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    heard,
    send: (frame) => peer?.send(frame, { binary: typeof frame !== 'string' }),
    request: (method, nth = 0) =>
      new Promise((resolve) => {
        const check = () => {
          const found = requests.filter((r) => r.method === method)[nth];
          if (!found) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      }),
    reply: (request, status) =>
      peer?.send(serialize(createResponse(request, status, { toTag: 'x' })) as string),
    drop: () => peer?.terminate(),
    get registering() {
      return registering;
    },
    set registering(on: boolean) {
      registering = on;
      if (on) for (const { ws, req } of waitingRegisters.splice(0)) register(ws, req);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}
