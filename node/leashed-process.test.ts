import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import { handshakeWithin, startLeashed } from './leashed-process.js';

describe('a leashed server process', () => {
  it('is stopped even when it ignores SIGTERM: killed after the grace', async () => {
    const server = startLeashed(
      'stubborn',
      'sh',
      ['-c', 'trap "" TERM; echo up; while :; do sleep 1; done'],
      {
        stdout: true,
      },
    );
    await new Promise<void>((resolve) => server.child.stdout!.once('data', () => resolve()));
    await server.stop();
    expect(server.child.exitCode ?? server.child.signalCode).not.toBeNull();
    // Its message names it and quotes the end of what it wrote.
    await expect(server.exited).rejects.toThrow(/stubborn exited \(\w+\) before listening:\nup\n/);
  }, 30_000);

  it('is given up on when its port takes connections and never answers the upgrade', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const err = await handshakeWithin(
        'silent',
        `ws://127.0.0.1:${port}`,
        'xmpp',
        300,
        () => 'its log',
      ).catch((e: unknown) => e);
      expect(isProtoflyError(err, 'PF_ERR_CONFIG') && err.message).toMatch(
        /silent did not listen at ws:\/\/127\.0\.0\.1:\d+ within 300 ms:\nits log/,
      );
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
