import { connect, type Socket } from 'node:net';

/**
 * A json-ws client that completes the WebSocket handshake with the node on `port` of
 * 127.0.0.1 and then answers nothing, not even a close: a node draining waits for it until its
 * shutdownGraceMs, or until the test destroys the socket.
 */
export function silentWebSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        [
          'GET / HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Protocol: protofly.json-ws.v1',
          '',
          '',
        ].join('\r\n'),
      ),
    );
    socket.once('data', (d) =>
      String(d).startsWith('HTTP/1.1 101 ') ? resolve(socket) : reject(new Error(`no upgrade: ${d}`)),
    );
    socket.on('error', reject);
  });
}
