import { toBase64Url } from '../core/encoding.js';
import { ProtoflyError } from '../core/errors.js';
import type { CatalogueClient } from './catalogue.js';
import { authorizationServer } from './password-login.js';

/**
 * The app's side of a log-in at an OpenID Connect provider (authorization code with PKCE,
 * RFC 7636, for a page or a Node app; browser-safe): the authorization request to send the
 * user to, and, from the redirect back, the form the app posts to its home domain's token
 * endpoint (`grant_type=authorization_code`), which redeems the code (identity-oidc).
 */
export interface CodeRequestOptions {
  /** The provider's `authorization_endpoint`. */
  readonly authorizationEndpoint: string;
  /** The domain's client id at the provider. */
  readonly clientId: string;
  /** Where the provider sends the user back: registered at the provider (a page's URL, a loopback one). */
  readonly redirectUri: string;
  /** Default `openid profile email`. */
  readonly scope?: string;
}

/**
 * The RFC 8414 metadata member (protofly's) of a domain whose users log in at an OpenID Connect
 * provider (identity-oidc): `{issuer, client_id}`, the provider and the domain's client there,
 * from which an app starts the log-in (the provider's discovery names its authorization endpoint).
 */
export const OIDC_LOGIN = 'pf_oidc';

/** Where a domain's users log in at its OpenID Connect provider, and where the code is redeemed. */
export interface OidcLogin {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly clientId: string;
  /** The domain's token endpoint, which redeems the code for the domain's own tokens. */
  readonly tokenEndpoint: string;
}

const MAX_METADATA_BYTES = 64 * 1024;

/**
 * How the users of `domain` log in, when it is at an OpenID Connect provider: its RFC 8414
 * metadata's {@link OIDC_LOGIN} member, then the provider's discovery (OpenID Connect Discovery
 * 1.0 §4), which must name the same issuer and an https authorization endpoint (http only from
 * an http issuer: a provider on this machine).
 *
 * @throws ProtoflyError `PF_ERR_NOT_FOUND` when the domain advertises no such log-in,
 *   `PF_ERR_SCHEMA` for metadata or discovery that is not usable, `PF_ERR_FETCH`.
 */
export async function oidcLoginOf(catalogue: CatalogueClient, domain: string): Promise<OidcLogin> {
  const { tokenEndpoint, metadata } = await authorizationServer(catalogue, domain);
  const member = metadata[OIDC_LOGIN] as { issuer?: unknown; client_id?: unknown } | undefined;
  if (member === undefined) {
    throw new ProtoflyError(
      'PF_ERR_NOT_FOUND',
      `${domain} has no OpenID Connect log-in (its metadata has no ${OIDC_LOGIN}): its users log in with a password`,
      { domain },
    );
  }
  const { issuer, client_id: clientId } = member;
  if (typeof issuer !== 'string' || !URL.canParse(issuer) || typeof clientId !== 'string' || !clientId) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `${domain}'s ${OIDC_LOGIN} needs an issuer URL and a client_id`,
      {
        pointer: `/${OIDC_LOGIN}`,
      },
    );
  }
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const what = `discovery of OpenID provider ${issuer}`;
  const { body } = await catalogue.json(url, MAX_METADATA_BYTES, what);
  const discovered = (body ?? {}) as { issuer?: unknown; authorization_endpoint?: unknown };
  if (discovered.issuer !== issuer) {
    throw new ProtoflyError('PF_ERR_SCHEMA', `${what}: names issuer ${JSON.stringify(discovered.issuer)}`, {
      url,
      pointer: '/issuer',
    });
  }
  const endpoint = discovered.authorization_endpoint;
  const allowed = new URL(issuer).protocol === 'http:' ? ['https:', 'http:'] : ['https:'];
  if (
    typeof endpoint !== 'string' ||
    !URL.canParse(endpoint) ||
    !allowed.includes(new URL(endpoint).protocol)
  ) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `${what}: authorization_endpoint ${JSON.stringify(endpoint)} is not an ${allowed.join(' or ')} URL`,
      { url, pointer: '/authorization_endpoint' },
    );
  }
  return { issuer, authorizationEndpoint: endpoint, clientId, tokenEndpoint };
}

/** An authorization request under way: its URL, and the secrets it was made with, which the app keeps. */
export interface CodeRequest {
  readonly url: string;
  readonly state: string;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly redirectUri: string;
}

/** An authorization request with a fresh PKCE verifier (S256), state and nonce. */
export async function codeRequest(options: CodeRequestOptions): Promise<CodeRequest> {
  const codeVerifier = random();
  const state = random();
  const nonce = random();
  const challenge = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(codeVerifier)),
  );
  const url = new URL(options.authorizationEndpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid profile email',
    code_challenge: toBase64Url(challenge),
    code_challenge_method: 'S256',
    state,
    nonce,
  })) {
    url.searchParams.set(k, v);
  }
  return { url: url.href, state, codeVerifier, nonce, redirectUri: options.redirectUri };
}

/**
 * The token endpoint form for the redirect back to `callbackUrl`.
 *
 * @throws ProtoflyError `PF_ERR_AUTH` when the provider refused (its `error`), or the state is
 *   not the request's (a redirect this app did not ask for: login CSRF); `PF_ERR_SCHEMA` for
 *   a callback that is not a URL.
 */
export function codeGrantForm(request: CodeRequest, callbackUrl: string): Record<string, string> {
  let params: URLSearchParams;
  try {
    params = new URL(callbackUrl).searchParams;
  } catch {
    throw new ProtoflyError('PF_ERR_SCHEMA', `the redirect back '${callbackUrl.slice(0, 100)}' is not a URL`);
  }
  if (params.get('state') !== request.state) {
    throw new ProtoflyError('PF_ERR_AUTH', 'the redirect back carries another state than the log-in sent');
  }
  const code = params.get('code');
  if (!code) {
    throw new ProtoflyError(
      'PF_ERR_AUTH',
      `the provider refused the log-in: ${params.get('error') ?? 'no code'}${params.has('error_description') ? `: ${params.get('error_description')}` : ''}`,
    );
  }
  return {
    grant_type: 'authorization_code',
    code,
    code_verifier: request.codeVerifier,
    redirect_uri: request.redirectUri,
    nonce: request.nonce,
  };
}

/** 32 random bytes, base64url: a verifier of the length RFC 7636 §4.1 recommends. */
function random(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
