import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { codeGrantForm, codeRequest } from '../../runtime/code-request.js';

/** A provider's account: the claims its ID tokens carry. */
export interface TestAccount {
  readonly preferred_username?: string;
  readonly email?: string;
  readonly email_verified?: boolean;
}

/** The client the domain is at the provider, and the redirect URI its apps use. */
export const CLIENT = { id: 'protofly', secret: 'protofly-client-secret' } as const;
/** Another client of the same provider: its codes and ID tokens are not the domain's. */
export const OTHER_CLIENT = { id: 'other-app', secret: 'other-app-secret' } as const;
export const REDIRECT_URI = 'http://127.0.0.1/callback';

/** A private signing key of the provider, to forge (or rightly sign) ID tokens in tests. */
export interface ProviderKey {
  readonly privateKey: CryptoKey;
  readonly kid: string;
}

export interface TestProvider {
  readonly issuer: string;
  readonly key: ProviderKey;
  /** Runs a whole authorization code + PKCE log-in of `account` as a browser would, over HTTP. */
  authorize(account: string, options?: AuthorizeOptions): Promise<AuthorizedCode>;
  close(): Promise<void>;
}

export interface AuthorizeOptions {
  readonly clientId?: string;
}

/** What the app holds after the redirect back: the code and what its request was made with. */
export interface AuthorizedCode {
  readonly code: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
  readonly nonce: string;
}

/** A fresh RS256 key with its kid. */
export async function providerKey(): Promise<ProviderKey & { readonly jwk: JWK }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(6).toString('base64url');
  return { privateKey, kid, jwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' } };
}

/**
 * A real OpenID Connect provider (the `oidc-provider` package) on loopback, with `accounts`
 * and two confidential clients (client_secret_post, PKCE required). Its log-in is its
 * development interaction, which takes any known account without a password: the tests log in
 * by posting the account's id, then consent, as a person would post the two forms. Signs with
 * `keys` (the first), or one key made here.
 *
 * @param port - to start again on the same issuer (a key rotation); default any free port.
 */
export async function testProvider(
  accounts: Readonly<Record<string, TestAccount>>,
  options: { keys?: readonly (ProviderKey & { jwk: JWK })[]; port?: number } = {},
): Promise<TestProvider> {
  const keys = options.keys ?? [await providerKey()];
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (id: string, secret: string) => ({
    client_id: id,
    client_secret: secret,
    redirect_uris: [REDIRECT_URI],
    application_type: 'native' as const, // loopback redirect URIs with any port (RFC 8252 §7.3)
    grant_types: ['authorization_code'],
    response_types: ['code' as const],
    token_endpoint_auth_method: 'client_secret_post' as const,
  });
  const provider = new Provider(issuer, {
    clients: [client(CLIENT.id, CLIENT.secret), client(OTHER_CLIENT.id, OTHER_CLIENT.secret)],
    jwks: { keys: keys.map((k) => k.jwk) },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'] },
    pkce: { required: () => true },
    async findAccount(_ctx, id) {
      const account = accounts[id];
      return account && { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
    ttl: { Interaction: 600, Session: 600, Grant: 600 },
    // The scopes' claims in the ID token itself, as Keycloak, Google and Entra put them.
    conformIdTokenClaims: false,
  });
  provider.on('server_error', (_ctx, err) => console.error('OIDC SERVER ERROR', err));
  const handle = provider.callback();
  server.on('request', (req, res) => {
    // No kept-alive connections: a provider started again on this port must not get a dead one.
    res.setHeader('connection', 'close');
    handle(req, res);
  });
  return {
    issuer,
    key: keys[0]!,
    authorize: (account, opts) => authorize(issuer, account, opts),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The app's part and the browser's: the request (runtime/code-request.ts), the log-in, the form for the domain. */
async function authorize(
  issuer: string,
  account: string,
  options: AuthorizeOptions = {},
): Promise<AuthorizedCode> {
  const request = await codeRequest({
    authorizationEndpoint: `${issuer}/auth`,
    clientId: options.clientId ?? CLIENT.id,
    redirectUri: REDIRECT_URI,
  });
  const form = codeGrantForm(request, await browse(request.url, account));
  return {
    code: form.code!,
    codeVerifier: form.code_verifier!,
    redirectUri: form.redirect_uri!,
    nonce: form.nonce!,
  };
}

/**
 * The browser's part: from the authorization request's URL through the log-in and consent
 * forms (or the abort link, as a user who declines) to the redirect back (to the request's
 * `redirect_uri`), with cookies.
 *
 * @returns the URL the provider redirected back to.
 */
export async function browse(
  url: string,
  account: string,
  options: { abort?: boolean } = {},
): Promise<string> {
  const cookies = new Map<string, string>();
  const go = async (target: string, form?: Record<string, string>): Promise<string> => {
    const res = await fetch(target, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = res.headers.get('location');
    if (!location)
      throw new Error(`${target} answered ${res.status} without a redirect: ${await res.text()}`);
    return new URL(location, target).href;
  };
  const back = new URL(url).searchParams.get('redirect_uri') ?? REDIRECT_URI;
  let at = await go(url);
  const prompts = ['login', 'consent'];
  for (let step = 0; step < 10 && !at.startsWith(back); step++) {
    const interaction = new URL(at).pathname.startsWith('/interaction/');
    if (interaction && options.abort) at = await go(`${at}/abort`);
    else if (interaction) at = await go(at, { prompt: prompts.shift() ?? 'consent', login: account });
    else at = await go(at);
  }
  return at;
}
