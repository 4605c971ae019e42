import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeAtomic } from '../../node/files.js';
import { KEYS_PATH } from '../../runtime/catalogue.js';
import { integrityHex } from '../../runtime/integrity.js';
import { type TestCatalogue, testCatalogue } from '../../test/support/domain-catalogue.js';
import { layout } from './layout.js';
import { createCatalogueServer } from './server.js';

const ECHO = join(import.meta.dirname, '../../test/fixtures/stubs/echo');
let cat: TestCatalogue;
let hex: string;

beforeAll(async () => {
  cat = await testCatalogue('b.example');
  hex = integrityHex((await cat.publish(ECHO)).descriptor.sourcePackage.integrity);
});
afterAll(() => cat.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${cat.url}${path}`, { headers });

describe('catalogue server', () => {
  it('serves packages immutable, with a strong ETag, a source map header and 304 on revalidation', async () => {
    const res = await get(`/packages/${hex}.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('etag')).toBe(`"${hex}"`);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('sourcemap')).toBe(`${hex}.js.map`);
    expect((await get(`/packages/${hex}.js`, { 'if-none-match': `"${hex}"` })).status).toBe(304);
    expect((await get(`/packages/${hex}.js.map`)).status).toBe(200);
  });

  it('serves descriptors with an ETag and short caching, by name and by alias', async () => {
    const res = await get('/.well-known/protofly/stub/default');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=10');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect((await res.json()).name).toBe('echo');
    const etag = res.headers.get('etag')!;
    expect((await get('/.well-known/protofly/stub/echo', { 'if-none-match': etag })).status).toBe(304);
    expect((await (await get('/.well-known/protofly/keys')).json()).keys[0].kid).toBe(cat.key.publicJwk.kid);
  });

  it('serves the keys and the default stub as they are now, once kept: replaced by a new file or rewritten in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-cat-kept-'));
    const server = createCatalogueServer({ dir });
    const url = await server.listen();
    const keys = layout.keys(dir);
    const aliases = layout.aliases(dir);
    const read = async (path: string) => (await fetch(`${url}${path}`)).text();
    try {
      for (const name of ['one', 'another'])
        await writeAtomic(layout.descriptor(dir, 'stub', name, '1.0.0'), `{"name":"${name}"}`);
      await writeAtomic(keys, '{"keys":[]}\n');
      await writeAtomic(aliases, '{"stub/default":"one"}\n');
      // Files changed long before: the server keeps what it read.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 60_000);
      expect(await read(KEYS_PATH)).toBe('{"keys":[]}\n');
      expect(await read('/.well-known/protofly/stub/default')).toBe('{"name":"one"}');

      await writeAtomic(keys, '{"keys":[{"kid":"new"}]}\n');
      expect(await read(KEYS_PATH)).toBe('{"keys":[{"kid":"new"}]}\n');
      await writeFile(aliases, '{"stub/default":"another"}\n');
      expect(await read('/.well-known/protofly/stub/default')).toBe('{"name":"another"}');
      await rm(keys);
      expect((await fetch(`${url}${KEYS_PATH}`)).status).toBe(404);
    } finally {
      vi.useRealTimers();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['/.well-known/protofly/stub/nope', 404, 'PF_ERR_NOT_FOUND', /no stub named 'nope'/],
    ['/.well-known/protofly/stub/echo?version=^7', 404, 'PF_ERR_NOT_FOUND', /satisfies \^7/],
    ['/.well-known/protofly/stub/echo?version=not-a-range', 400, 'PF_ERR_SCHEMA', /not a semver range/],
    ['/.well-known/protofly/stub/Bad..Name', 400, 'PF_ERR_SCHEMA', /is not a stub name/],
    ['/.well-known/protofly/backend/default', 404, 'PF_ERR_NOT_FOUND', /no default backend/],
    [`/packages/${'0'.repeat(96)}.js`, 404, 'PF_ERR_NOT_FOUND', /no package/],
    ['/etc/passwd', 404, 'PF_ERR_NOT_FOUND', /nothing at/],
    ['/packages/../keys.json', 404, 'PF_ERR_NOT_FOUND', /nothing at/],
  ])('answers %s with %i and a coded JSON error', async (path, status, code, message) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    const body = await res.json();
    expect(body.error.code).toBe(code);
    expect(body.error.message).toMatch(message);
  });

  it('refuses writes with 405, coded PF_ERR_METHOD', async () => {
    const res = await fetch(`${cat.url}/.well-known/protofly/stub/echo`, { method: 'PUT', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PF_ERR_METHOD');
  });

  it('answers a file it cannot read with a coded 500 and logs its cause, not sends it; an absent one is a 404', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-cat-unreadable-'));
    const lines: Record<string, unknown>[] = [];
    const log = pino({}, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const server = createCatalogueServer({ dir, log });
    try {
      const url = await server.listen();
      const absent = await fetch(`${url}${KEYS_PATH}`);
      expect(absent.status).toBe(404);
      expect(((await absent.json()) as { error: { code: string } }).error.code).toBe('PF_ERR_NOT_FOUND');
      // A directory where the JWKS belongs: unreadable for root too.
      await mkdir(layout.keys(dir));
      const res = await fetch(`${url}${KEYS_PATH}`);
      expect(res.status).toBe(500);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('PF_ERR_STORAGE');
      expect(error.message).not.toContain(dir);
      const logged = lines.find((l) => l.msg === 'catalogue request failed');
      expect(JSON.stringify(logged?.err)).toContain('EISDIR');
      expect(JSON.stringify(logged?.err)).toContain(layout.keys(dir));
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is readable by pages of any origin, without credentials: *, the preflight of a conditional GET answered 204', async () => {
    const path = '/.well-known/protofly/stub/echo/versions';
    const res = await fetch(`${cat.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'if-none-match',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    expect(res.headers.get('access-control-allow-headers')).toBe('if-none-match');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    for (const p of [
      path,
      `/packages/${hex}.js`,
      '/.well-known/protofly/keys',
      '/.well-known/protofly/stub/nope',
    ]) {
      const answer = await get(p, { origin: 'https://app.example' });
      expect(answer.headers.get('access-control-allow-origin')).toBe('*');
      expect(answer.headers.get('access-control-expose-headers')).toBe('etag');
    }
    const stream = new AbortController();
    const events = await fetch(`${cat.url}/.well-known/protofly/events`, { signal: stream.signal });
    expect(events.headers.get('access-control-allow-origin')).toBe('*');
    stream.abort();
  });

  it('refuses oversized headers with 431', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(cat.url);
      request(
        { host: u.hostname, port: u.port, path: '/', headers: { 'x-big': 'a'.repeat(20_000) } },
        (res) => resolve(res.statusCode ?? 0),
      )
        .on('error', reject)
        .end();
    });
    expect(status).toBe(431);
  });

  it('drops a client that never finishes its headers (slowloris), and keeps serving others', async () => {
    cat.server.server.headersTimeout = 300;
    cat.server.server.requestTimeout = 300;
    const u = new URL(cat.url);
    const closed = new Promise<string>((resolve) => {
      const socket = connect(Number(u.port), u.hostname, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('close', () => resolve(text));
    });
    expect((await get('/.well-known/protofly/keys')).status).toBe(200);
    expect(await closed).toMatch(/^HTTP\/1\.1 408|^$/);
  });
});
