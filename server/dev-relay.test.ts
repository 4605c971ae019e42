import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { type Relay, type RelayEvent, startRelay } from './dev-relay.js';

/** protofly dev's relay between a stub and its protocol's server, with real sockets on both sides. */

let server: WebSocketServer;
let relay: Relay;
afterEach(async () => {
  await relay?.close();
  await new Promise((done) => server?.close(done));
});

describe('the development relay', () => {
  it('relays frames both ways in order, with the subprotocol and close code, and reports each', async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    server.on('connection', (ws) => {
      ws.on('message', (data) => {
        const text = data.toString();
        if (text === 'bye') ws.close(4401, 'refused');
        else ws.send(`${ws.protocol}:${text.toUpperCase()}`);
      });
    });
    const events: RelayEvent[] = [];
    let wake = () => {};
    const upstream = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
    relay = await startRelay({
      upstream,
      onEvent: (e) => {
        events.push(e);
        wake();
      },
    });
    const client = new WebSocket(relay.url, ['linechat']);
    const got: string[] = [];
    client.on('message', (d) => got.push(d.toString()));
    // Sent at once: what comes before the server's socket is open waits, in order.
    client.on('open', () => {
      for (const text of ['one', 'two', 'three']) client.send(text);
    });
    await new Promise<void>((resolve) => {
      wake = () => events.filter((e) => e.kind === 'frame' && e.direction === 'in').length === 3 && resolve();
    });
    client.send('bye');
    const [code, reason] = (await once(client, 'close')) as [number, Buffer];
    expect(got).toEqual(['linechat:ONE', 'linechat:TWO', 'linechat:THREE']);
    expect([code, reason.toString()]).toEqual([4401, 'refused']);
    expect(events.map((e) => (e.kind === 'frame' ? `${e.direction} ${e.data}` : e.kind))).toEqual([
      'open',
      'out one',
      'out two',
      'out three',
      'in linechat:ONE',
      'in linechat:TWO',
      'in linechat:THREE',
      'out bye',
      'close',
    ]);
    expect(events.at(-1)).toMatchObject({ kind: 'close', connection: 1, code: 4401, reason: 'refused' });
  });

  it("closes the stub's socket when the server cannot be reached", async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    await new Promise((done) => server.close(done));
    relay = await startRelay({ upstream: `ws://127.0.0.1:${port}/`, onEvent: () => {} });
    const client = new WebSocket(relay.url);
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1011);
  });
});
