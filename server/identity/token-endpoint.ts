import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseAddress, userAddress } from '../../core/address.js';
import { type ErrorCode, isProtoflyError, ProtoflyError, statusOf } from '../../core/errors.js';
import { isPreflight, PageOrigins, PREFLIGHT_MAX_AGE } from '../page-origins.js';
import type { Identity } from '../services/service.js';
import { LoginGuard, type LoginGuardOptions } from './login-guard.js';
import { RefreshTokens, type RefreshTokensOptions } from './refresh-tokens.js';

/**
 * A domain's token endpoint, shaped as OAuth 2.0's (RFC 6749) for a public client:
 *
 * - `grant_type=password&username=<name>&password=<pw>[&audience=<domain>]` (§4.3): a user of
 *   this domain logs in;
 * - `grant_type=refresh_token&refresh_token=<t>[&audience=<domain>]` (§6): a new access token,
 *   and a new refresh token (the one given is spent, see refresh-tokens.ts);
 * - `grant_type=authorization_code&code=<c>&code_verifier=<v>&redirect_uri=<u>&nonce=<n>
 *   [&audience=<domain>]` (§4.1.3, RFC 7636 §4.5), for a domain whose identity backend logs
 *   users in at an OpenID Connect provider (`Identity.exchange`): the app ran the authorization
 *   request itself (its own PKCE verifier and nonce, its own redirect URI, registered at the
 *   provider) and hands the code here, where the client secret is; the domain redeems it and
 *   answers with its own tokens. The guard counts these per client address.
 *
 * The access token is the domain's short-lived Ed25519 JWT (what the identity service issues)
 * for `audience`, the domain whose node will check it (default this domain): a runtime asks its
 * home domain here for a token to reach another domain's node. Answers follow §5.1
 * (`access_token`, `token_type`, `expires_in`, `refresh_token`; `Cache-Control: no-store`) and
 * §5.2 (`error`, `error_description`, and `pf_code`, protofly's code). Guessing is bounded per
 * user and per client address (see login-guard.ts): over the rate or locked out, 429 with
 * Retry-After.
 *
 * Pages (CORS, Fetch §3.2): a request with an `Origin` among `origins` is answered with that
 * origin in `Access-Control-Allow-Origin` (and `Vary: Origin`, the answer depending on it), its
 * preflight with 204; no credentials are allowed, none are needed (the grant is in the body).
 * A request from any other page is refused with 403 `PF_ERR_ORIGIN` before its body is read
 * or any guard counts it, and without CORS headers, so the page reads nothing: a form POST is
 * a "simple" request that a browser sends without asking first, so withholding the headers
 * alone would still let any page make its visitors log in. A request without `Origin` is no
 * page (see page-origins.ts).
 */
export interface TokenEndpointOptions {
  readonly domain: string;
  readonly identity: Pick<Identity, 'authenticate' | 'issue' | 'active' | 'exchange'>;
  /** Access token lifetime in seconds. Default 600. */
  readonly accessTtlSeconds?: number;
  readonly guard?: LoginGuardOptions;
  readonly refresh?: RefreshTokensOptions;
  /** Origins of the pages that may use the endpoint (the domain config's `browsers.token`). Default none. */
  readonly origins?: readonly string[];
}

/** Where a domain's messaging node serves the endpoint; its catalogue advertises the URL (RFC 8414 metadata). */
export const TOKEN_PATH = '/.well-known/protofly/token';
const MAX_BODY_BYTES = 4096;

/** The §5.1 success answer. */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function tokenEndpoint(options: TokenEndpointOptions): Handler {
  const guard = new LoginGuard(options.guard);
  const refreshTokens = new RefreshTokens(options.refresh);
  const ttl = options.accessTtlSeconds ?? 600;
  const { identity, domain } = options;
  const pages = new PageOrigins(options.origins ?? [], `the token endpoint of ${domain}`);

  const grant = async (form: URLSearchParams, client: string): Promise<TokenResponse> => {
    const audience = audienceOf(form.get('audience') ?? domain);
    const type = form.get('grant_type');
    let address: string;
    let refresh: string;
    if (type === 'password') {
      const name = required(form, 'username');
      const password = required(form, 'password');
      const keys = [`user:${name}`, `address:${client}`];
      guard.admit(keys);
      const found = await identity.authenticate(name, password);
      if (!found) {
        guard.failed(keys);
        throw new ProtoflyError('PF_ERR_AUTH', `wrong user or password for ${userAddress(domain, name)}`);
      }
      guard.succeeded(keys[0]!);
      address = found;
      refresh = refreshTokens.issue(address);
    } else if (type === 'refresh_token') {
      const token = required(form, 'refresh_token');
      guard.admit([`address:${client}`]);
      const rotated = refreshTokens.rotate(token);
      if (identity.active && !(await identity.active(rotated.address))) {
        refreshTokens.revoke(rotated.next);
        throw new ProtoflyError(
          'PF_ERR_AUTH',
          `${rotated.address} may no longer log in (disabled or removed)`,
        );
      }
      address = rotated.address;
      refresh = rotated.next;
    } else if (type === 'authorization_code' && identity.exchange) {
      const keys = [`address:${client}`];
      guard.admit(keys);
      try {
        address = await identity.exchange({
          code: required(form, 'code'),
          codeVerifier: required(form, 'code_verifier'),
          redirectUri: required(form, 'redirect_uri'),
          nonce: required(form, 'nonce'),
        });
      } catch (err) {
        if (isProtoflyError(err, 'PF_ERR_AUTH')) guard.failed(keys);
        throw err;
      }
      refresh = refreshTokens.issue(address);
    } else {
      throw new OAuthError(
        'unsupported_grant_type',
        'PF_ERR_SCHEMA',
        `grant_type '${type ?? ''}': this endpoint takes ${identity.exchange ? 'password, refresh_token and authorization_code' : 'password and refresh_token'}`,
      );
    }
    return {
      access_token: await identity.issue(address, ttl, audience),
      token_type: 'Bearer',
      expires_in: ttl,
      refresh_token: refresh,
    };
  };

  return async (req, res) => {
    try {
      const origin = req.headers.origin;
      res.setHeader('vary', 'origin');
      if (!pages.allows(origin)) throw pages.refusal(origin!);
      if (origin !== undefined) {
        res.setHeader('access-control-allow-origin', origin);
        // A refusal's Retry-After is for the runtime to read.
        res.setHeader('access-control-expose-headers', 'retry-after');
      }
      if (req.method === 'OPTIONS') return preflight(req, res);
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST, OPTIONS');
        throw new OAuthError(
          'invalid_request',
          'PF_ERR_METHOD',
          `${req.method}: the token endpoint takes POST`,
        );
      }
      const type = req.headers['content-type']?.split(';')[0]?.trim();
      if (type !== 'application/x-www-form-urlencoded') {
        throw new OAuthError(
          'invalid_request',
          'PF_ERR_SCHEMA',
          `content-type '${type ?? ''}': the token endpoint takes application/x-www-form-urlencoded`,
        );
      }
      const form = new URLSearchParams(await readBody(req));
      reply(res, 200, await grant(form, req.socket.remoteAddress ?? 'unknown'));
    } catch (err) {
      refuse(res, err);
    }
  };
}

/** A §5.2 refusal that names its OAuth `error` itself. */
class OAuthError extends ProtoflyError {
  constructor(
    readonly error: string,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** `OPTIONS` from an allowed page, or no page: a preflight gets what a page may send (RFC 9110 §9.3.7 for the rest). */
function preflight(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('allow', 'POST, OPTIONS');
  if (isPreflight(req)) {
    res.setHeader('access-control-allow-methods', 'POST');
    res.setHeader('access-control-allow-headers', 'content-type');
    res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE);
  }
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

function refuse(res: ServerResponse, err: unknown): void {
  const known = isProtoflyError(err) ? err : undefined;
  const code = known?.code;
  const retry = known?.detail.retryAfterSeconds;
  const wire = statusOf(code ?? 'PF_ERR_INTERNAL');
  // §5.2: a refusal is 400 whatever its code; a page refused, a wrong method, a rate limit and a
  // failure of ours keep theirs (the first is no OAuth refusal: the request was not looked at).
  const status = code === 'PF_ERR_ORIGIN' || wire === 405 || wire === 429 || wire >= 500 ? wire : 400;
  const error =
    err instanceof OAuthError
      ? err.error
      : code === 'PF_ERR_AUTH'
        ? 'invalid_grant'
        : code === 'PF_ERR_ORIGIN'
          ? 'unauthorized_client'
          : status === 429
            ? 'temporarily_unavailable'
            : status >= 500
              ? 'server_error'
              : 'invalid_request';
  if (typeof retry === 'number') res.setHeader('retry-after', String(retry));
  reply(res, status, {
    error,
    error_description: known?.message ?? 'the token endpoint failed',
    ...(code ? { pf_code: code } : {}),
  });
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
  });
  res.end(JSON.stringify(body));
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new OAuthError('invalid_request', 'PF_ERR_SCHEMA', `missing parameter '${name}'`);
  return value;
}

function audienceOf(audience: string): string {
  try {
    if (parseAddress(`domain://${audience}`).domain === audience) return audience;
  } catch {
    // Refused below with the parameter named.
  }
  throw new OAuthError('invalid_request', 'PF_ERR_SCHEMA', `audience '${audience}' is not a domain name`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      throw new OAuthError(
        'invalid_request',
        'PF_ERR_TOO_LARGE',
        `request body over ${MAX_BODY_BYTES} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
