import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy between a client and `target`, standing for the network: `blackhole()` makes the
 * connections open now lose what either end sends (as a dead link does), `cut()` drops them,
 * the way a network would: each end sees its socket end, neither having closed its stream. New
 * connections pass. `heard` is what the server sent, lost or not (text: RFC 7395 frames are
 * unmasked that way), for a test to see which XMPP the server spoke.
 */
export interface CuttableProxy {
  /** The target's `url` with the proxy's port. */
  url(url: string): string;
  /** Everything the server sent, through every connection so far. */
  heard(): string;
  /**
   * Resolves once what the server sent (since `forget()`) holds `text`. A pattern for XML with
   * attributes: Prosody writes them in its Lua table's order, which differs from run to run.
   */
  hears(text: string | RegExp): Promise<void>;
  /** Forgets what was heard so far: a test hears only its own. */
  forget(): void;
  blackhole(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function cuttableProxy(target: number): Promise<CuttableProxy> {
  type Link = { readonly client: Socket; readonly server: Socket; lost: boolean };
  const links = new Set<Link>();
  const waiters = new Set<() => void>();
  let heard = '';
  const proxy = createServer((clientSide) => {
    const link: Link = { client: clientSide, server: connect(target, '127.0.0.1'), lost: false };
    links.add(link);
    const end = () => {
      links.delete(link);
      link.client.destroy();
      link.server.destroy();
    };
    link.client.on('data', (d) => link.lost || link.server.write(d));
    link.server.on('data', (d) => {
      // Heard even when lost: the test sees what the server sent into the black hole.
      heard += d.toString('latin1');
      if (!link.lost) link.client.write(d);
      for (const w of waiters) w();
    });
    for (const s of [link.client, link.server]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => proxy.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const { port } = proxy.address() as { port: number };
  const cut = () => {
    for (const link of links) {
      links.delete(link);
      link.client.destroy();
      link.server.destroy();
    }
  };
  return {
    url: (url) => {
      const u = new URL(url);
      u.port = String(port);
      return u.href;
    },
    heard: () => heard,
    forget: () => {
      heard = '';
    },
    hears: (text) =>
      new Promise((resolve) => {
        const check = () => {
          if (typeof text === 'string' ? !heard.includes(text) : !text.test(heard)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    blackhole() {
      for (const link of links) link.lost = true;
    },
    cut,
    async close() {
      cut();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
