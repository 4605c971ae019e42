import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { ProtoflyError } from '../../../core/errors.js';
import { HttpJson } from '../../../server/services/http-json.js';
import type { CodeGrant } from '../../../server/services/service.js';

/** The provider's metadata this backend uses (OpenID Connect Discovery 1.0 §3). */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
  readonly jwks_uri: string;
}

export interface OidcProviderOptions {
  /** The issuer identifier: its metadata is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Milliseconds for each request to the provider. Default 5000. */
  readonly timeoutMs?: number;
  /** Milliseconds after a key set fetch before an unknown `kid` fetches it again. Default 30 s. */
  readonly keysCooldownMs?: number;
}

/** Metadata, key sets and token answers are small; anything larger is refused, not read. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** A failed discovery is not tried again sooner, so a provider down is not asked at each log-in. */
const DISCOVERY_RETRY_MS = 5000;

/**
 * An OpenID Connect provider as a confidential client of it sees it: its metadata (discovered
 * once, its `issuer` checked to be the one configured, §4.3), its signing keys (fetched, kept
 * ten minutes, fetched again for an unknown `kid` once the cooldown has passed) and its token
 * endpoint, where an authorization code is redeemed (client_secret_post, with the PKCE
 * verifier). Every failure is a coded error: `PF_ERR_FETCH` when the provider cannot be had,
 * `PF_ERR_AUTH` when it refuses.
 */
export class OidcProvider {
  readonly issuer: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #http: HttpJson;
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  #metadata: Promise<ProviderMetadata> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #keys: JWTVerifyGetKey | undefined;

  /** @throws ProtoflyError `PF_ERR_CONFIG` for an issuer that is not an https URL (http on loopback only). */
  constructor(options: OidcProviderOptions) {
    this.issuer = options.issuer;
    checkUrl(options.issuer, 'issuer', 'PF_ERR_CONFIG');
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#cooldownMs = options.keysCooldownMs ?? 30_000;
    this.#http = new HttpJson({ timeoutMs: this.#timeoutMs });
  }

  /**
   * The provider's metadata, discovered on first use and kept.
   *
   * @throws ProtoflyError `PF_ERR_FETCH` when it cannot be had or is not the configured issuer's.
   */
  metadata(): Promise<ProviderMetadata> {
    if (!this.#metadata) {
      if (performance.now() - this.#failedAt < DISCOVERY_RETRY_MS) {
        return Promise.reject(
          new ProtoflyError('PF_ERR_FETCH', `OpenID provider ${this.issuer}: discovery failed moments ago`),
        );
      }
      this.#metadata = this.#discover();
      this.#metadata.catch(() => {
        this.#metadata = undefined;
        this.#failedAt = performance.now();
      });
    }
    return this.#metadata;
  }

  /** The provider's signing keys, as a jose key resolver. */
  async keys(): Promise<JWTVerifyGetKey> {
    if (!this.#keys) {
      const { jwks_uri } = await this.metadata();
      this.#keys = createRemoteJWKSet(new URL(jwks_uri), {
        timeoutDuration: this.#timeoutMs,
        cooldownDuration: this.#cooldownMs,
        // Through the bounded client: a key set larger than any real one is refused unread.
        [customFetch]: async (url: string) => {
          const what = `keys of OpenID provider ${this.issuer}`;
          return new Response(new TextDecoder().decode(await this.#http.bytes(url, MAX_ANSWER_BYTES, what)));
        },
      });
    }
    return this.#keys;
  }

  /**
   * Redeems an authorization code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5).
   *
   * @returns the ID token, unverified.
   * @throws ProtoflyError `PF_ERR_AUTH` (the provider refused the code: spent, expired, another
   *   client's, a wrong verifier or redirect URI; or gave no ID token), `PF_ERR_FETCH`.
   */
  async redeem(grant: CodeGrant): Promise<string> {
    const { token_endpoint } = await this.metadata();
    const what = `token endpoint of OpenID provider ${this.issuer}`;
    const { status, body } = await this.#http.postForm(
      token_endpoint,
      {
        grant_type: 'authorization_code',
        code: grant.code,
        redirect_uri: grant.redirectUri,
        code_verifier: grant.codeVerifier,
        client_id: this.#clientId,
        client_secret: this.#clientSecret,
      },
      MAX_ANSWER_BYTES,
      what,
    );
    const answer = (body ?? {}) as Record<string, unknown>;
    if (status >= 500) throw new ProtoflyError('PF_ERR_FETCH', `${what} failed (HTTP ${status})`, { status });
    if (status !== 200) {
      throw new ProtoflyError(
        'PF_ERR_AUTH',
        `${what} refused the code (HTTP ${status} ${String(answer.error)}): ${String(answer.error_description)}`,
        { status, error: answer.error },
      );
    }
    if (typeof answer.id_token !== 'string') {
      throw new ProtoflyError('PF_ERR_AUTH', `${what} gave no ID token (was 'openid' in the scope?)`);
    }
    return answer.id_token;
  }

  async #discover(): Promise<ProviderMetadata> {
    const url = `${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const what = `metadata of OpenID provider ${this.issuer}`;
    const { body } = await this.#http.json(url, MAX_ANSWER_BYTES, what);
    const m = (body ?? {}) as Record<string, unknown>;
    if (m.issuer !== this.issuer) {
      throw new ProtoflyError(
        'PF_ERR_FETCH',
        `${what}: names issuer ${JSON.stringify(m.issuer)}, not the one configured`,
        { url },
      );
    }
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      checkUrl(m[key], `${what}: ${key}`, 'PF_ERR_FETCH');
    }
    return m as unknown as ProviderMetadata;
  }
}

/** An https URL; http only to a loopback host (a provider on this machine, tests). */
function checkUrl(value: unknown, what: string, code: 'PF_ERR_CONFIG' | 'PF_ERR_FETCH'): void {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    // Refused below.
  }
  const loopback = url && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new ProtoflyError(code, `${what} ${JSON.stringify(value)} is not an https URL`);
  }
}
