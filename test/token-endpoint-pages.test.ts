import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../plugins/backends/identity-static/password.js';
import type { StaticIdentity } from '../plugins/backends/identity-static/static-identity.js';
import { TOKEN_PATH, tokenEndpoint } from '../server/identity/token-endpoint.js';
import { testIdentity } from './support/identity-fixtures.js';

/** The token endpoint for pages (CORS, Fetch §3.2), over real HTTP. */

const APP = 'https://app.a.example';
const EVIL = 'https://evil.example';
const PASSWORD = 'correct horse';

let identity: StaticIdentity;
let server: Server;
let url: string;

beforeAll(async () => {
  const hash = await hashPassword(PASSWORD);
  identity = await testIdentity('a.example', { users: new Map([['alice', { hash, disabled: false }]]) });
  const handle = tokenEndpoint({ domain: 'a.example', identity, origins: [APP] });
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const preflight = (origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
const login = (password: string, origin?: string) =>
  fetch(url, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', username: 'alice', password }),
    headers: origin ? { origin } : {},
  });

/** The CORS headers of an answer. */
function cors(res: Response): Record<string, string> {
  const found: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith('access-control-') || name === 'vary') found[name] = value;
  });
  return found;
}

// Each log-in checks a password with scrypt, slow on purpose: room for a loaded machine.
describe('the token endpoint, from pages', { timeout: 60_000 }, () => {
  it('answers the preflight of an allowed page with 204: its origin, POST, content-type, no credentials', async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(cors(res)).toEqual({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-expose-headers': 'retry-after',
      'access-control-max-age': '7200',
      vary: 'origin',
    });
  });

  it('gives an allowed page its tokens, shared with that origin alone', async () => {
    const res = await login(PASSWORD, APP);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toBe('origin');
    expect(await res.json()).toMatchObject({ token_type: 'Bearer' });
  });

  it('refuses another page with 403 PF_ERR_ORIGIN and nothing it may read, preflight or not, before looking at the request', async () => {
    for (const origin of [EVIL, 'null', `${APP}:444`]) {
      for (const res of [await preflight(origin), await login(PASSWORD, origin)]) {
        expect(res.status).toBe(403);
        expect(cors(res)).toEqual({ vary: 'origin' });
        expect(await res.json()).toMatchObject({ error: 'unauthorized_client', pf_code: 'PF_ERR_ORIGIN' });
      }
    }
    // Guesses from a refused page are not even counted: more than lock a user out (5) change nothing.
    for (let i = 0; i < 8; i++) expect((await login('wrong', EVIL)).status).toBe(403);
    expect((await login(PASSWORD)).status).toBe(200);
  });

  it('serves a client that sends no Origin (no browser) as before, without CORS headers', async () => {
    const res = await login(PASSWORD);
    expect(res.status).toBe(200);
    expect(cors(res)).toEqual({ vary: 'origin' });
  });
});
