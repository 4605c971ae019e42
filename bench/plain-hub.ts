import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The baseline every messaging benchmark measures against: a plain `ws` JSON hub. A client says
 * `{t:'hello', address}`, gets `{"t":"ready"}`, and every `{t:'msg', m}` it sends is re-serialised
 * and sent to the client registered as `m.to`; to a `domain://` address, `subscribe` joins that
 * group and anything else goes to its other members (one encoding). No authentication,
 * validation, acks or limits.
 */
export interface PlainHub {
  readonly url: string;
  close(): Promise<void>;
}

export async function startPlainHub(): Promise<PlainHub> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const clients = new Map<string, WebSocket>();
  const groups = new Map<string, Set<WebSocket>>();
  wss.on('connection', (ws) =>
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.t === 'hello') {
        clients.set(frame.address, ws);
        ws.send('{"t":"ready"}');
      } else if (!frame.m.to.startsWith('domain://')) {
        clients.get(frame.m.to)?.send(JSON.stringify(frame));
      } else if (frame.m.type === 'subscribe') {
        if (!groups.has(frame.m.to)) groups.set(frame.m.to, new Set());
        groups.get(frame.m.to)!.add(ws);
      } else {
        const text = JSON.stringify(frame);
        for (const member of groups.get(frame.m.to) ?? []) if (member !== ws) member.send(text);
      }
    }),
  );
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
