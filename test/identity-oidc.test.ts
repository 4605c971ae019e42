import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type IdTokenExpectations, verifyIdToken } from '../plugins/backends/identity-oidc/id-token.js';
import { OidcProvider } from '../plugins/backends/identity-oidc/provider.js';
import { codeGrantForm, codeRequest } from '../runtime/code-request.js';
import { TOKEN_PATH, tokenEndpoint } from '../server/identity/token-endpoint.js';
import type { Identity } from '../server/services/service.js';
import { BACKENDS_DOMAIN, serviceOf } from './support/backends.js';
import {
  type AuthorizedCode,
  browse,
  CLIENT,
  OTHER_CLIENT,
  type ProviderKey,
  providerKey,
  REDIRECT_URI,
  type TestProvider,
  testProvider,
} from './support/oidc-provider.js';
import { holdPort } from './support/ports.js';

/**
 * identity-oidc against a real OpenID Connect provider (oidc-provider on loopback): the whole
 * authorization code + PKCE log-in over HTTP through the domain's token endpoint, and the
 * attacks on it: codes replayed, of another client, with a wrong verifier or nonce; ID tokens
 * for another audience, expired, signed by another key, unsigned, HMAC'd with the public key;
 * users the domain has no name for; a provider down.
 */

const ALICE = `user://${BACKENDS_DOMAIN}/alice`;
const ACCOUNTS = {
  alice: { preferred_username: 'alice', email: 'alice@corp.example', email_verified: true },
  mallory: { preferred_username: 'not/a name' },
  eve: { preferred_username: 'eve', email: 'alice@evil.example', email_verified: true },
  carol: { preferred_username: 'carol', email: 'carol@corp.example', email_verified: false },
};

let provider: TestProvider;
let identity: Identity;
let server: Server;
let endpoint: string;

const config = (extra: Record<string, unknown> = {}) => ({
  issuer: provider.issuer,
  clientId: CLIENT.id,
  clientSecret: CLIENT.secret,
  keysCooldownSeconds: 0,
  ...extra,
});

beforeAll(async () => {
  provider = await testProvider(ACCOUNTS);
  identity = await serviceOf('identity', 'identity-oidc', config());
  // Every refusal below comes from one client address: room for them before the lock-out.
  const handle = tokenEndpoint({
    domain: BACKENDS_DOMAIN,
    identity,
    guard: { maxFailures: 100, burst: 100 },
  });
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await provider.close();
});

/** The app's POST of its code to the domain's token endpoint. */
async function redeem(code: AuthorizedCode, change: Record<string, string> = {}) {
  const res = await fetch(endpoint, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.codeVerifier,
      redirect_uri: code.redirectUri,
      nonce: code.nonce,
      ...change,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A refusal as a page or app reads it: the OAuth error, a description, protofly's code; no stack. */
function expectRefusal(answer: { status: number; body: Record<string, unknown> }, code: string, why: RegExp) {
  expect(Object.keys(answer.body).sort()).toEqual(['error', 'error_description', 'pf_code']);
  expect(answer.body.pf_code).toBe(code);
  expect(answer.body.error_description).toMatch(why);
  expect(String(answer.body.error_description)).not.toMatch(/\n\s+at /);
}

describe('identity-oidc: the code + PKCE log-in through the token endpoint', { timeout: 60_000 }, () => {
  it("gives the domain's own tokens for a provider's user, which refresh", async () => {
    const answer = await redeem(await provider.authorize('alice'));
    expect(answer.status).toBe(200);
    expect(await identity.verify(answer.body.access_token as string)).toBe(ALICE);
    const refreshed = await fetch(endpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: answer.body.refresh_token as string,
        audience: 'b.example',
      }),
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };
    await expect(identity.verify(access_token)).rejects.toThrow(/PF_ERR_AUTH: .*audience/);
  });

  it('refuses a code used twice', async () => {
    const code = await provider.authorize('alice');
    expect((await redeem(code)).status).toBe(200);
    const again = await redeem(code);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expectRefusal(again, 'PF_ERR_AUTH', /refused the code \(HTTP 400 invalid_grant\)/);
  });

  it('refuses a code with another PKCE verifier, or redirect URI', async () => {
    const code = await provider.authorize('alice');
    expectRefusal(await redeem(code, { code_verifier: 'x'.repeat(43) }), 'PF_ERR_AUTH', /invalid_grant/);
    const other = await provider.authorize('alice');
    expectRefusal(
      await redeem(other, { redirect_uri: 'http://127.0.0.1/elsewhere' }),
      'PF_ERR_AUTH',
      /invalid_grant/,
    );
  });

  it("refuses the code of another client of the provider (the domain's secret is not its)", async () => {
    const code = await provider.authorize('alice', { clientId: OTHER_CLIENT.id });
    expectRefusal(await redeem(code), 'PF_ERR_AUTH', /refused the code/);
  });

  it('refuses an ID token whose nonce is not the one the app asked for', async () => {
    const code = await provider.authorize('alice');
    expectRefusal(await redeem(code, { nonce: 'not-the-one-sent' }), 'PF_ERR_AUTH', /another nonce/);
  });

  it('refuses a provider user who maps to no user name here', async () => {
    expectRefusal(
      await redeem(await provider.authorize('mallory')),
      'PF_ERR_AUTH',
      /"mallory" maps to no user of backends.test by its preferred_username/,
    );
  });

  it('maps by the verified email of the one email domain, and refuses other domains and unverified ones', async () => {
    const byEmail = await serviceOf(
      'identity',
      'identity-oidc',
      config({ claim: 'email', emailDomain: 'corp.example' }),
    );
    expect(await byEmail.exchange!(await provider.authorize('alice'))).toBe(ALICE);
    await expect(byEmail.exchange!(await provider.authorize('eve'))).rejects.toThrow(
      /PF_ERR_AUTH: .*"eve" maps to no user .* by its email \(verified, at corp.example\)/,
    );
    await expect(byEmail.exchange!(await provider.authorize('carol'))).rejects.toThrow(
      /"carol" maps to no user/,
    );
    await expect(serviceOf('identity', 'identity-oidc', config({ claim: 'email' }))).rejects.toThrow(
      /PF_ERR_CONFIG: .*emailDomain/,
    );
  });

  it('refuses to refresh once the last provider log-in is older than reauthenticateSeconds', async () => {
    const brief = await serviceOf('identity', 'identity-oidc', config({ reauthenticateSeconds: 1 }));
    expect(await brief.active!(ALICE)).toBe(false); // never logged in here
    expect(await brief.exchange!(await provider.authorize('alice'))).toBe(ALICE);
    expect(await brief.active!(ALICE)).toBe(true);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 1001);
      expect(await brief.active!(ALICE)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
    expect(await identity.active!('user://backends.test/nobody')).toBe(false);
  });

  it('locks a client address out after failed codes, as after wrong passwords', async () => {
    const handle = tokenEndpoint({ domain: BACKENDS_DOMAIN, identity, guard: { maxFailures: 2 } });
    const s = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const post = async () => {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}${TOKEN_PATH}`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'guessed',
          code_verifier: 'v'.repeat(43),
          redirect_uri: REDIRECT_URI,
          nonce: 'n',
        }),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    expect((await post()).pf_code).toBe('PF_ERR_AUTH');
    expect((await post()).pf_code).toBe('PF_ERR_AUTH');
    expect((await post()).pf_code).toBe('PF_ERR_LOCKED');
    s.close();
  });

  it('says a provider down is unavailable (PF_ERR_FETCH, 502), not a bad log-in', async () => {
    const { port, release } = await holdPort();
    await release();
    const down = await serviceOf('identity', 'identity-oidc', config({ issuer: `http://127.0.0.1:${port}` }));
    await expect(down.exchange!(await provider.authorize('alice'))).rejects.toThrow(
      /^PF_ERR_FETCH: metadata of OpenID provider http:\/\/127.0.0.1:\d+/,
    );
    const handle = tokenEndpoint({ domain: BACKENDS_DOMAIN, identity: down });
    const s = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}${TOKEN_PATH}`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'c',
        code_verifier: 'v',
        redirect_uri: 'r',
        nonce: 'n',
      }),
    });
    s.close();
    expect(res.status).toBe(502);
    expectRefusal(
      { status: res.status, body: (await res.json()) as Record<string, unknown> },
      'PF_ERR_FETCH',
      /discovery failed|metadata/,
    );
  });

  it('refuses a provider whose metadata names another issuer than the one configured', async () => {
    const wrong = await serviceOf('identity', 'identity-oidc', config({ issuer: `${provider.issuer}/` }));
    await expect(wrong.exchange!(await provider.authorize('alice'))).rejects.toThrow(
      /PF_ERR_FETCH: .*names issuer "http:\/\/127.0.0.1:\d+", not the one configured/,
    );
  });

  it('takes only https issuers (http on loopback)', async () => {
    await expect(
      serviceOf('identity', 'identity-oidc', config({ issuer: 'http://idp.example' })),
    ).rejects.toThrow(/PF_ERR_CONFIG: issuer "http:\/\/idp.example" is not an https URL/);
  });
});

describe("the app's side: the authorization request and the redirect back", { timeout: 60_000 }, () => {
  const request = () =>
    codeRequest({
      authorizationEndpoint: `${provider.issuer}/auth`,
      clientId: CLIENT.id,
      redirectUri: REDIRECT_URI,
    });

  it('sends PKCE S256, a state and a nonce, fresh each time', async () => {
    const [one, two] = [await request(), await request()];
    const params = new URL(one.url).searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('code_challenge')).not.toBe(one.codeVerifier);
    expect([params.get('state'), params.get('nonce')]).toEqual([one.state, one.nonce]);
    expect(
      new Set([one.state, one.nonce, one.codeVerifier, two.state, two.nonce, two.codeVerifier]).size,
    ).toBe(6);
  });

  it('refuses a redirect back with another state (one this app did not ask for)', async () => {
    const mine = await request();
    const callback = await browse((await request()).url, 'alice');
    expect(() => codeGrantForm(mine, callback)).toThrow(
      /^PF_ERR_AUTH: the redirect back carries another state/,
    );
  });

  it("says the provider's refusal when the user declines", async () => {
    const declined = await request();
    expect(() => codeGrantForm(declined, 'callback?code=x')).toThrow(/^PF_ERR_SCHEMA: .* is not a URL/);
    const callback = await browse(declined.url, 'alice', { abort: true });
    expect(() => codeGrantForm(declined, callback)).toThrow(
      /^PF_ERR_AUTH: the provider refused the log-in: access_denied/,
    );
  });
});

describe('identity-oidc: ID tokens, checked with the real provider keys', { timeout: 60_000 }, () => {
  let oidc: OidcProvider;
  const NONCE = 'nonce-1';
  let expectations: IdTokenExpectations;

  beforeAll(() => {
    oidc = new OidcProvider({
      issuer: provider.issuer,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      keysCooldownMs: 0,
    });
    expectations = {
      issuer: provider.issuer,
      clientId: CLIENT.id,
      nonce: NONCE,
      algorithms: ['RS256', 'ES256'],
      skewSeconds: 60,
      maxAgeSeconds: 600,
    };
  });

  /** An ID token with `claims` over the good ones, signed with `key` (the provider's by default). */
  const idToken = (claims: Record<string, unknown> = {}, key: ProviderKey = provider.key) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      sub: 'alice',
      nonce: NONCE,
      iat: now,
      exp: now + 300,
      iss: provider.issuer,
      aud: CLIENT.id,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .sign(key.privateKey);
  };
  const check = async (token: string | Promise<string>) =>
    verifyIdToken(await token, await oidc.keys(), expectations);

  it('accepts one signed by the provider for this client, with the nonce', async () => {
    expect((await check(idToken())).sub).toBe('alice');
  });

  it('refuses another audience, and several audiences whose azp is not this client', async () => {
    await expect(check(idToken({ aud: OTHER_CLIENT.id }))).rejects.toThrow(/^PF_ERR_AUTH: ID token .*aud/);
    await expect(check(idToken({ aud: [CLIENT.id, OTHER_CLIENT.id] }))).rejects.toThrow(/azp/);
    await expect(check(idToken({ aud: [CLIENT.id, OTHER_CLIENT.id], azp: OTHER_CLIENT.id }))).rejects.toThrow(
      /azp/,
    );
    expect((await check(idToken({ aud: [CLIENT.id, OTHER_CLIENT.id], azp: CLIENT.id }))).sub).toBe('alice');
  });

  it('refuses an expired token past the skew, and one issued too long ago, but takes skew within bounds', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(check(idToken({ exp: now - 61 }))).rejects.toThrow(/^PF_ERR_AUTH: ID token .*exp/);
    await expect(check(idToken({ iat: now - 3600 }))).rejects.toThrow(/^PF_ERR_AUTH: ID token .*iat/);
    expect((await check(idToken({ exp: now - 30 }))).sub).toBe('alice');
  });

  it('refuses another nonce, or none', async () => {
    await expect(check(idToken({ nonce: 'nonce-2' }))).rejects.toThrow(/another nonce/);
    await expect(check(idToken({ nonce: undefined }))).rejects.toThrow(/another nonce/);
  });

  it('refuses another issuer', async () => {
    await expect(check(idToken({ iss: 'https://idp.evil.example' }))).rejects.toThrow(
      /^PF_ERR_AUTH: ID token .*iss/,
    );
  });

  it("refuses a token signed by another key, whether it claims the provider's kid or a new one", async () => {
    const other = await providerKey();
    await expect(check(idToken({}, { privateKey: other.privateKey, kid: provider.key.kid }))).rejects.toThrow(
      /^PF_ERR_AUTH: ID token signature verification failed/,
    );
    await expect(check(idToken({}, other))).rejects.toThrow(/^PF_ERR_AUTH: ID token .*no applicable key/);
  });

  it('refuses an unsigned token (alg none) and one HMAC-signed with the public key, before any key lookup', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({ sub: 'alice', nonce: NONCE, iat: now, exp: now + 300 })
      .setIssuer(provider.issuer)
      .setAudience(CLIENT.id)
      .encode();
    await expect(check(unsigned)).rejects.toThrow(/^PF_ERR_AUTH: ID token is signed with alg "none"/);
    const jwks = (await (await fetch(`${provider.issuer}/jwks`)).json()) as { keys: { n: string }[] };
    const hmac = await new SignJWT({
      sub: 'alice',
      nonce: NONCE,
      iat: now,
      exp: now + 300,
      iss: provider.issuer,
      aud: CLIENT.id,
    })
      .setProtectedHeader({ alg: 'HS256', kid: provider.key.kid })
      .sign(new TextEncoder().encode(jwks.keys[0]!.n));
    await expect(check(hmac)).rejects.toThrow(/^PF_ERR_AUTH: ID token is signed with alg "HS256"/);
    await expect(check('not.a.jwt')).rejects.toThrow(/^PF_ERR_AUTH: ID token is not a JWT/);
  });

  it('takes an algorithm of the list only, even with a key the provider publishes', async () => {
    const { privateKey } = await generateKeyPair('PS256');
    const now = Math.floor(Date.now() / 1000);
    const ps = await new SignJWT({
      sub: 'alice',
      nonce: NONCE,
      iat: now,
      exp: now + 300,
      iss: provider.issuer,
      aud: CLIENT.id,
    })
      .setProtectedHeader({ alg: 'PS256', kid: provider.key.kid })
      .sign(privateKey);
    await expect(check(ps)).rejects.toThrow(/alg "PS256", not one of RS256, ES256/);
  });
});

describe('identity-oidc: the provider rotates its key', { timeout: 60_000 }, () => {
  it('fetches the keys again for an unknown kid, and logs users in with the new key', async () => {
    const first = await providerKey();
    const second = await providerKey();
    const before = await testProvider(ACCOUNTS, { keys: [first] });
    const port = Number(new URL(before.issuer).port);
    const rotating = await serviceOf('identity', 'identity-oidc', config({ issuer: before.issuer }));
    expect(await rotating.exchange!(await before.authorize('alice'))).toBe(ALICE);
    await before.close();
    // The same issuer, started again signing with a new key only.
    const after = await testProvider(ACCOUNTS, { keys: [second], port });
    try {
      expect(await rotating.exchange!(await after.authorize('alice'))).toBe(ALICE);
    } finally {
      await after.close();
    }
  });
});
