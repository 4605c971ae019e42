import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { AUTHORIZATION_SERVER_PATH } from '../runtime/catalogue.js';
import { OIDC_LOGIN } from '../runtime/code-request.js';
import { type CatalogueServer, createCatalogueServer } from '../server/catalogue/server.js';
import { advertiseTokenEndpoint, prepareDomain, startDomain } from '../server/domain.js';
import { tokenEndpoint } from '../server/identity/token-endpoint.js';
import type { Identity } from '../server/services/service.js';
import { BACKENDS_DOMAIN, serviceOf } from './support/backends.js';
import { browse, CLIENT, type TestProvider, testProvider } from './support/oidc-provider.js';

/**
 * `protofly login` against a domain whose identity is identity-oidc, end to end: a real
 * OpenID Connect provider (oidc-provider), the domain's metadata as a domain advertises it
 * (advertiseTokenEndpoint) in its catalogue, its token endpoint over the identity-oidc backend,
 * and the command run as a native app (a loopback redirect, RFC 8252 §7.3) with the browser's
 * part played over HTTP through the provider's log-in and consent forms.
 */

const DOMAIN = BACKENDS_DOMAIN;
const ALICE = `user://${DOMAIN}/alice`;
const log = pino({ level: 'silent' });

let dir: string;
let provider: TestProvider;
let identity: Identity;
let tokens: Server;
const catalogues: Record<string, string> = {};
const servers: CatalogueServer[] = [];

/** A domain's catalogue with its RFC 8414 metadata, its token endpoint at `nodeUrl`. */
async function catalogueOf(config: Record<string, unknown>, nodeUrl: string): Promise<string> {
  const d = await prepareDomain({ ...config, dataDir: join(dir, String(config.domain)) }, { log });
  await advertiseTokenEndpoint(d, nodeUrl);
  const server = createCatalogueServer({ dir: d.catalogueDir, log });
  servers.push(server);
  return server.listen(0, '127.0.0.1');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pf-oidc-login-'));
  provider = await testProvider({ alice: { preferred_username: 'alice' } });
  const config = { issuer: provider.issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret };
  identity = await serviceOf('identity', 'identity-oidc', { ...config, keysCooldownSeconds: 0 });
  const handle = tokenEndpoint({ domain: DOMAIN, identity });
  tokens = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  const nodeUrl = `ws://127.0.0.1:${(tokens.address() as AddressInfo).port}`;
  catalogues[DOMAIN] = await catalogueOf(
    { domain: DOMAIN, services: { identity: { backend: 'identity-oidc', config } } },
    nodeUrl,
  );
  catalogues['plain.example'] = await catalogueOf({ domain: 'plain.example' }, nodeUrl);
}, 60_000);
afterAll(async () => {
  for (const s of servers) await s.close();
  await new Promise((resolve) => tokens?.close(resolve));
  await provider?.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Runs `protofly login` in this process; resolves with the authorization request's URL once
 * the command prints it, and the command's outcome: its status, what it printed.
 */
function login(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let printed!: (url: string) => void;
  const url = new Promise<string>((resolve) => {
    printed = resolve;
  });
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    const text = a.join(' ');
    err.push(text);
    const request = /^http\S+\/auth\?\S+$/m.exec(text);
    if (request) printed(request[0]);
  });
  const peers = Object.entries(catalogues).flatMap(([d, url]) => ['--peer', `${d}=${url}`]);
  const done = main(['login', '--no-browser', ...peers, ...args]).then((code) => ({ code, out, err }));
  return { url, done };
}

describe('protofly login with OpenID Connect', { timeout: 60_000 }, () => {
  it('advertises the provider and client id in the domain metadata, and no secret', async () => {
    const metadata = await (await fetch(`${catalogues[DOMAIN]}${AUTHORIZATION_SERVER_PATH}`)).json();
    expect(metadata[OIDC_LOGIN]).toEqual({ issuer: provider.issuer, client_id: CLIENT.id });
    expect(metadata.grant_types_supported).toContain('authorization_code');
    expect(JSON.stringify(metadata)).not.toContain(CLIENT.secret);
  });

  it("logs in at the provider through a loopback redirect, and keeps the domain's token (0600)", async () => {
    const file = join(dir, 'alice.token');
    const run = login(['--as', ALICE, '--token-file', file]);
    const request = new URL(await run.url);
    // Authorization code with PKCE (S256), to a loopback redirect on the command's own port.
    expect(request.searchParams.get('code_challenge_method')).toBe('S256');
    expect(request.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const back = await browse(request.href, 'alice');
    const page = await fetch(back);
    expect(page.status).toBe(200);
    const { code, out } = await run.done;
    expect(code).toBe(0);
    expect(out.at(-1)).toMatch(
      new RegExp(`^logged in as ${ALICE}: a token for ${DOMAIN}, valid \\d+ s, in `),
    );
    const token = (await readFile(file, 'utf8')).trim();
    expect(await identity.verify(token)).toBe(ALICE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('fails with PF_ERR_AUTH when the user declines at the provider, and writes nothing', async () => {
    const file = join(dir, 'declined.token');
    const run = login(['--as', ALICE, '--token-file', file]);
    await fetch(await browse(await run.url, 'alice', { abort: true }));
    const { code, err } = await run.done;
    expect(code).toBe(1);
    expect(err.at(-1)).toMatch(/^PF_ERR_AUTH: the provider refused the log-in: access_denied/);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says a domain without an OpenID Connect log-in has none (PF_ERR_NOT_FOUND)', async () => {
    const run = login(['--as', 'user://plain.example/bob', '--token-file', join(dir, 'bob.token')]);
    const { code, err } = await run.done;
    expect(code).toBe(1);
    expect(err.at(-1)).toMatch(/^PF_ERR_NOT_FOUND: plain\.example has no OpenID Connect log-in/);
  });

  it('starts as `protofly serve` starts it: no provisioning (the users live at the provider), unless asked for by name', async () => {
    const config = { issuer: provider.issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const services = { identity: { backend: 'identity-oidc', config } };
    const domain = await startDomain(
      { domain: 'serve.example', dataDir: join(dir, 'serve'), services },
      { log },
    );
    try {
      expect(domain.services.provisioning).toBeUndefined();
      expect(domain.backends.map((b) => b.name)).not.toContain('provisioning-identity');
      const res = await fetch(`${domain.adminUrl}/provisioning/v1/users`);
      expect(res.status).toBe(404);
    } finally {
      await domain.close();
    }
    const asked = { ...services, provisioning: { backend: 'provisioning-identity', config: { admins: [] } } };
    await expect(
      startDomain({ domain: 'asked.example', dataDir: join(dir, 'asked'), services: asked }, { log }),
    ).rejects.toMatchObject({ code: 'PF_ERR_CONFIG' });
  });
});
