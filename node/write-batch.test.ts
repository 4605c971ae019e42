import { connect, createServer, type Server, type Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { batchWrites } from './write-batch.js';

describe('batchWrites', () => {
  let server: Server;
  let client: Socket;
  const received: Buffer[] = [];

  const open = async () => {
    server = createServer((s) => s.on('data', (d) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    client = connect(port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
  };

  afterEach(async () => {
    client.destroy();
    await new Promise((r) => server.close(r));
    received.length = 0;
  });

  it('sends the first write of a turn at once, and holds the rest until the turn ends', async () => {
    await open();
    for (const word of ['one', 'two', 'three']) {
      batchWrites(client);
      client.write(word);
    }
    expect(client.writableCorked).toBe(1);
    expect(client.writableLength).toBe('twothree'.length);
    await turn();
    expect(client.writableCorked).toBe(0);
    await expect.poll(() => Buffer.concat(received).toString()).toBe('onetwothree');
  });

  it('lets a burst out once 16 KiB wait, so what stays queued measures the reader', async () => {
    await open();
    const chunk = 'x'.repeat(6 * 1024);
    for (let i = 0; i < 5; i++) {
      batchWrites(client);
      client.write(chunk);
    }
    // The first went at once; the fifth found 18 KiB corked and sent them, and waits itself.
    expect(client.writableLength).toBe(chunk.length);
    await turn();
    await expect.poll(() => Buffer.concat(received).length).toBe(5 * chunk.length);
  });
});
