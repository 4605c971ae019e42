import { once } from 'node:events';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * linechat's example server: takes `HELLO <address> <token>` (it believes the address when a token
 * comes with it; a real server would check the token with the user's home domain), then routes
 * each `MSG` and `ACK` to every connection of its `<to>`. A MSG nobody is connected to take is
 * answered 404 here.
 */
export interface LinechatServer {
  /** Where clients connect: `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a linechat server on loopback (port 0: any free one). */
export async function start(port = 0): Promise<LinechatServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await once(wss, 'listening');
  const users = new Map<string, Set<WebSocket>>();
  const to = (address: string, frame: string) => {
    for (const ws of users.get(address) ?? []) ws.send(frame);
    return users.has(address);
  };
  wss.on('connection', (ws) => {
    let me: string | undefined;
    ws.on('message', (data) => {
      const frame = data.toString();
      const [verb, a = '', b = '', c = ''] = frame.split(' ');
      if (me === undefined) {
        if (verb !== 'HELLO' || !a.startsWith('user://') || !b)
          return ws.close(4401, 'HELLO <address> <token> first');
        me = a;
        users.set(me, (users.get(me) ?? new Set()).add(ws));
        return ws.send(`WELCOME ${me}`);
      }
      // Only from the address this connection said HELLO with.
      if ((verb === 'MSG' || verb === 'ACK') && b === me) {
        if (!to(c, frame) && verb === 'MSG') ws.send(`ACK ${a} ${c} ${me} 404`);
        return;
      }
      ws.close(4400, `bad frame: ${frame.slice(0, 40)}`);
    });
    ws.on('close', () => {
      const mine = me === undefined ? undefined : users.get(me);
      mine?.delete(ws);
      if (mine?.size === 0) users.delete(me!);
    });
  });
  const { port: bound } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${bound}/`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((done) => wss.close(() => done()));
    },
  };
}
