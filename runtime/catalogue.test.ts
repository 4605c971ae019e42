import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isProtoflyError } from '../core/errors.js';
import { CatalogueClient } from './catalogue.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** A real HTTP server that closes the connection of the first `drops` requests without an answer. */
async function dropping(drops: number): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    if (++requests <= drops) return req.socket.destroy();
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((listening) => server!.listen(0, '127.0.0.1', listening));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/doc`, requests: () => requests };
}

describe('CatalogueClient GET', () => {
  it('sends a GET again, once, when its connection closed under it (a kept-alive socket the server dropped)', async () => {
    const s = await dropping(1);
    const got = await new CatalogueClient().json(s.url, 1024, 'a document');
    expect(got.body).toEqual({ ok: true });
    expect(s.requests()).toBe(2);
  });

  it('fails with PF_ERR_FETCH when the second try is dropped too, after two requests', async () => {
    const s = await dropping(Number.POSITIVE_INFINITY);
    const err = await new CatalogueClient().json(s.url, 1024, 'a document').catch((e: unknown) => e);
    expect(isProtoflyError(err) && err.code).toBe('PF_ERR_FETCH');
    expect((err as Error).message).toContain('other side closed');
    expect(s.requests()).toBe(2);
  });
});
