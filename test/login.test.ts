import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import { hashPassword } from '../plugins/backends/identity-static/password.js';
import type { StaticIdentity } from '../plugins/backends/identity-static/static-identity.js';
import { AUTHORIZATION_SERVER_PATH, CatalogueClient } from '../runtime/catalogue.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import { PasswordLogin } from '../runtime/password-login.js';
import { developmentPolicy } from '../runtime/policy.js';
import { type LocalDomains, startLocalDomains } from '../server/domain.js';
import { TOKEN_PATH, type TokenEndpointOptions, tokenEndpoint } from '../server/identity/token-endpoint.js';
import { testIdentity } from './support/identity-fixtures.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const PASSWORD = 'correct horse';

/** A token endpoint alone on loopback over a real identity, with the options under test. */
async function endpointOf(
  identity: StaticIdentity,
  options: Partial<TokenEndpointOptions> = {},
): Promise<{ url: string; server: Server }> {
  const handle = tokenEndpoint({ domain: identity.domain, identity, ...options });
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`, server };
}

async function post(url: string, form: Record<string, string>) {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

// Every log-in checks a password with scrypt, slow on purpose: room for a loaded machine.
describe('the token endpoint', { timeout: 60_000 }, () => {
  let identity: StaticIdentity;
  const servers: Server[] = [];
  const start = async (options: Partial<TokenEndpointOptions> = {}) => {
    const { url, server } = await endpointOf(identity, options);
    servers.push(server);
    return url;
  };
  const login = (url: string, password = PASSWORD, username = 'alice') =>
    post(url, { grant_type: 'password', username, password });

  beforeAll(async () => {
    const hash = await hashPassword(PASSWORD);
    identity = await testIdentity('a.example', { users: new Map([['alice', { hash, disabled: false }]]) });
  });
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('issues a short-lived token for the user and a refresh token (RFC 6749 §5.1)', async () => {
    const url = await start();
    const { status, headers, body } = await login(url);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600 });
    expect(await identity.verify(body.access_token as string)).toBe(ALICE);
    expect(decodeJwt(body.access_token as string)).toMatchObject({ iss: 'a.example', aud: 'a.example' });
    expect(body.refresh_token).toMatch(/^[\w-]{43}$/);
  });

  it('refuses a wrong password with invalid_grant and PF_ERR_AUTH, and gives no token', async () => {
    const url = await start();
    for (const [username, password] of [
      ['alice', 'wrong'],
      ['nobody', PASSWORD],
    ]) {
      const { status, body } = await login(url, password, username);
      expect(status).toBe(400);
      expect(body).toMatchObject({ error: 'invalid_grant', pf_code: 'PF_ERR_AUTH' });
      expect(body).not.toHaveProperty('access_token');
    }
  });

  it('refuses bad requests with their OAuth error', async () => {
    const url = await start();
    expect((await post(url, { grant_type: 'client_credentials' })).body).toMatchObject({
      error: 'unsupported_grant_type',
      pf_code: 'PF_ERR_SCHEMA',
    });
    expect((await post(url, { grant_type: 'password', username: 'alice' })).body).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/'password'/),
    });
    const aud = await post(url, {
      grant_type: 'password',
      username: 'alice',
      password: PASSWORD,
      audience: 'B..',
    });
    expect(aud.body).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/audience/),
    });
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    const json = await fetch(url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(400);
    const big = await post(url, { grant_type: 'password', username: 'alice', password: 'x'.repeat(5000) });
    expect(big.body).toMatchObject({ error: 'invalid_request', pf_code: 'PF_ERR_TOO_LARGE' });
  });

  it('locks a user out after repeated failures, even with the right password, until the lock-out ends', async () => {
    let now = 1_000_000;
    const url = await start({ guard: { now: () => now, maxFailures: 3, lockoutMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await login(url, 'guess')).status).toBe(400);
    const locked = await login(url);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('60');
    expect(locked.body).toMatchObject({ error: 'temporarily_unavailable', pf_code: 'PF_ERR_LOCKED' });
    expect(locked.body).not.toHaveProperty('access_token');
    now += 59_000;
    expect((await login(url)).body).toMatchObject({ pf_code: 'PF_ERR_LOCKED' });
    now += 1_000;
    expect((await login(url)).status).toBe(200);
  });

  it('locks an address out that guesses at many users', async () => {
    const now = 1_000_000;
    const url = await start({ guard: { now: () => now, maxFailures: 3, lockoutMs: 60_000 } });
    for (const name of ['bob', 'carol', 'dave']) expect((await login(url, 'guess', name)).status).toBe(400);
    expect((await login(url)).body).toMatchObject({ pf_code: 'PF_ERR_LOCKED' });
  });

  it('bounds the request rate per user and address (PF_ERR_FLOOD, 429)', async () => {
    const now = 1_000_000;
    const url = await start({ guard: { now: () => now, rate: 1, burst: 2 } });
    expect((await login(url)).status).toBe(200);
    expect((await login(url)).status).toBe(200);
    const third = await login(url);
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ pf_code: 'PF_ERR_FLOOD' });
    expect(third.headers.get('retry-after')).toBe('1');
  });

  it('refreshes with a rotating refresh token, for another audience too; a spent one revokes its log-in', async () => {
    const url = await start();
    const first = (await login(url)).body;
    const refreshed = await post(url, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
      audience: 'b.example',
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({ sub: ALICE, aud: 'b.example' });
    const replay = await post(url, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ error: 'invalid_grant', pf_code: 'PF_ERR_AUTH' });
    // The copy was detected: the successor given to whoever refreshed first is revoked as well.
    const next = await post(url, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token as string,
    });
    expect(next.body).toMatchObject({ error: 'invalid_grant', pf_code: 'PF_ERR_AUTH' });
  });

  it('refuses a refresh once the user is disabled', async () => {
    const hash = await hashPassword(PASSWORD);
    const own = await testIdentity('a.example', { users: new Map([['alice', { hash, disabled: false }]]) });
    const { url, server } = await endpointOf(own);
    servers.push(server);
    const { refresh_token } = (await login(url)).body;
    await own.users.update('alice', { disabled: true });
    const refused = await post(url, { grant_type: 'refresh_token', refresh_token: refresh_token as string });
    expect(refused.body).toMatchObject({
      error: 'invalid_grant',
      pf_code: 'PF_ERR_AUTH',
      error_description: expect.stringMatching(/disabled/),
    });
  });

  it('refuses a refresh once its time is over', async () => {
    let now = 1_000_000;
    const url = await start({ refresh: { now: () => now, ttlMs: 60_000 } });
    const { refresh_token } = (await login(url)).body;
    now += 60_000;
    const late = await post(url, { grant_type: 'refresh_token', refresh_token: refresh_token as string });
    expect(late.body).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/expired/),
    });
  });
});

describe('a runtime that logs in with a password', { timeout: 60_000 }, () => {
  let dir: string;
  let local: LocalDomains;
  const runtimes: NodeRuntime[] = [];
  const runtime = (address: string, password = PASSWORD) => {
    const rt = createNodeRuntime({
      identity: { address, password },
      catalogues: local.peers,
      policy: developmentPolicy,
      dataDir: false,
    });
    runtimes.push(rt);
    return rt;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pf-login-'));
    const hash = await hashPassword(PASSWORD);
    local = await startLocalDomains(['a.example', 'b.example'], dir, {
      users: new Map([
        ['alice', hash],
        ['bob', hash],
      ]),
      log: pino({ level: 'silent' }),
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    await local?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds its token endpoint in its catalogue (RFC 8414 metadata)', async () => {
    const res = await fetch(`${local.peers['a.example']}${AUTHORIZATION_SERVER_PATH}`);
    const metadata = await res.json();
    expect(metadata).toMatchObject({
      issuer: 'a.example',
      grant_types_supported: ['password', 'refresh_token'],
    });
    expect(metadata.token_endpoint).toBe(
      `${local.byName.get('a.example')!.nodeUrl.replace(/^ws/, 'http').replace(/\/$/, '')}${TOKEN_PATH}`,
    );
  });

  it('is refused with PF_ERR_AUTH for a wrong password', async () => {
    await expect(runtime(BOB, 'wrong').runtime.register()).rejects.toMatchObject({ code: 'PF_ERR_AUTH' });
  });

  it('renews its token before it expires, with the refresh token, one per audience', async () => {
    let now = Date.now();
    const grants: string[] = [];
    const catalogue = new CatalogueClient({
      catalogues: local.peers,
      fetch: (input, init) => {
        if (init?.body instanceof URLSearchParams) {
          grants.push(`${init.body.get('grant_type')} ${init.body.get('audience')}`);
        }
        return fetch(input, init);
      },
    });
    const login = new PasswordLogin({ address: ALICE, password: PASSWORD, catalogue, now: () => now });
    const first = await login.token('a.example');
    expect(await login.token('a.example')).toBe(first);
    expect(grants).toEqual(['password a.example']);
    now += 479_000; // 600 s tokens are renewed after 80% of their life
    expect(await login.token('a.example')).toBe(first);
    now += 2_000;
    const renewed = await login.token('a.example');
    expect(grants).toEqual(['password a.example', 'refresh_token a.example']);
    expect(await local.byName.get('a.example')!.identity.verify(renewed)).toBe(ALICE);
    const foreign = await login.token('b.example');
    expect(decodeJwt(foreign)).toMatchObject({ iss: 'a.example', aud: 'b.example', sub: ALICE });
    expect(grants.at(-1)).toBe('refresh_token b.example');
    // Asked at once, the tokens come from one request at a time: no refresh token is spent twice.
    now += 600_000;
    await Promise.all([login.token('a.example'), login.token('b.example'), login.token('a.example')]);
    expect(grants.slice(3)).toEqual(['refresh_token a.example', 'refresh_token b.example']);
  });

  it("reaches another domain's node with a token its home domain issued for that audience", async () => {
    const bob = runtime(BOB);
    await bob.runtime.register();
    const bobHeard = new Promise<[Conversation, Incoming]>((resolve) =>
      bob.runtime.on('conversation', (c) => c.on('message', (m) => resolve([c, m]))),
    );
    const alice = runtime(ALICE);
    const withBob = await alice.runtime.conversation(BOB);
    const aliceHeard = new Promise<Incoming>((resolve) => withBob.on('message', resolve));
    await withBob.send('hello from a.example');
    const [withAlice, m] = await bobHeard;
    expect(m).toMatchObject({ from: ALICE, body: { kind: 'chat', text: 'hello from a.example' } });
    await withAlice.send('hello back');
    expect((await aliceHeard).body).toMatchObject({ text: 'hello back' });
  });
});
