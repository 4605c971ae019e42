import { parseAddress } from '../core/address.js';
import { isErrorCode, ProtoflyError } from '../core/errors.js';
import { AUTHORIZATION_SERVER_PATH, type CatalogueClient } from './catalogue.js';
import type { RuntimeIdentity } from './runtime.js';

/**
 * A runtime identity that logs in by itself: it finds its home domain's token endpoint (the
 * RFC 8414 metadata in the domain's catalogue), logs in with the user's password (OAuth 2.0
 * password grant), and keeps one access token per audience, renewed with the rotating refresh
 * token once 80% of its life has passed; when the refresh token is refused (expired, or issued
 * by another node process) it logs in again with the password, which it keeps for that.
 * Requests are made one at a time, so a refresh token is never spent twice.
 */
export interface PasswordLoginOptions {
  /** `user://<home-domain>/<name>`. */
  readonly address: string;
  readonly password: string;
  /** Finds the home domain's catalogue (and fetches, bounded). */
  readonly catalogue: CatalogueClient;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

interface Held {
  readonly token: string;
  /** When to ask for a new one, ms since the epoch. */
  readonly renewAt: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;
/**
 * The RFC 8414 metadata member (protofly's) listing the origins of the pages the token endpoint
 * serves: the home domain's config `browsers.token`.
 */
export const BROWSER_ORIGINS = 'pf_browser_origins';
/** A log-in checks a password with a deliberately slow hash (scrypt): longer than a catalogue fetch. */
const GRANT_TIMEOUT_MS = 30_000;

export class PasswordLogin implements RuntimeIdentity {
  readonly address: string;
  readonly #domain: string;
  readonly #name: string;
  readonly #password: string;
  readonly #catalogue: CatalogueClient;
  readonly #now: () => number;
  readonly #held = new Map<string, Held>();
  #endpoint: string | undefined;
  /** The pages the endpoint serves, where its metadata says. */
  #pages: readonly string[] | undefined;
  #refresh: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PasswordLoginOptions) {
    const parsed = parseAddress(options.address);
    if (parsed.scheme !== 'user') {
      throw new ProtoflyError('PF_ERR_ADDRESS', `${options.address}: only a user address logs in`, {
        address: options.address,
      });
    }
    this.address = options.address;
    this.#domain = parsed.domain;
    this.#name = parsed.path[0]!;
    this.#password = options.password;
    this.#catalogue = options.catalogue;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A token of the home domain for `audience`, fresh for at least a fifth of its life.
   *
   * @throws ProtoflyError `PF_ERR_AUTH` (wrong password, user disabled), `PF_ERR_LOCKED`,
   *   `PF_ERR_FLOOD` (the endpoint's limits), `PF_ERR_NOT_FOUND` (the domain advertises no
   *   token endpoint), `PF_ERR_FETCH`, `PF_ERR_SCHEMA`.
   */
  token(audience: string = this.#domain): Promise<string> {
    const held = this.#fresh(audience);
    if (held) return Promise.resolve(held);
    const next = this.#queue.then(() => this.#fresh(audience) ?? this.#renew(audience));
    this.#queue = next.catch(() => {});
    return next;
  }

  #fresh(audience: string): string | undefined {
    const held = this.#held.get(audience);
    return held && held.renewAt > this.#now() ? held.token : undefined;
  }

  async #renew(audience: string): Promise<string> {
    if (this.#refresh !== undefined) {
      const refresh = this.#refresh;
      this.#refresh = undefined;
      try {
        return await this.#grant(audience, { grant_type: 'refresh_token', refresh_token: refresh });
      } catch (err) {
        // A refused refresh token: log in again; anything else (network, limits) is the answer.
        if ((err as ProtoflyError).code !== 'PF_ERR_AUTH') throw err;
      }
    }
    return this.#grant(audience, { grant_type: 'password', username: this.#name, password: this.#password });
  }

  async #grant(audience: string, form: Record<string, string>): Promise<string> {
    const endpoint = await this.#tokenEndpoint();
    this.#checkPage();
    const asked = this.#now();
    const { token, refresh, ttl } = await grant(
      this.#catalogue,
      this.#domain,
      endpoint,
      { ...form, audience },
      this.address,
    );
    this.#refresh = refresh;
    this.#held.set(audience, { token, renewAt: asked + ttl * 800 });
    return token;
  }

  /**
   * In a page (which has an `origin`; Node has none): refuses a log-in the endpoint would refuse
   * for the page's origin, since the browser would show the page only a failed fetch. The
   * endpoint decides; this only names why.
   *
   * @throws ProtoflyError `PF_ERR_ORIGIN`
   */
  #checkPage(): void {
    const page = (globalThis as { origin?: unknown }).origin;
    if (typeof page !== 'string' || !this.#pages || this.#pages.includes(page)) return;
    throw new ProtoflyError(
      'PF_ERR_ORIGIN',
      `${this.address}: pages of ${page} may not log in at the token endpoint of ${this.#domain}, which serves pages of ${this.#pages.join(', ') || 'no origin'}`,
      { origin: page },
    );
  }

  async #tokenEndpoint(): Promise<string> {
    if (this.#endpoint) return this.#endpoint;
    const { tokenEndpoint, metadata } = await authorizationServer(this.#catalogue, this.#domain);
    const pages = metadata[BROWSER_ORIGINS];
    if (Array.isArray(pages)) this.#pages = pages.filter((p): p is string => typeof p === 'string');
    this.#endpoint = tokenEndpoint;
    return this.#endpoint;
  }
}

/** A home domain's RFC 8414 metadata, and its token endpoint checked. */
export interface AuthorizationServer {
  readonly tokenEndpoint: string;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * The RFC 8414 metadata of `domain`, from its catalogue: where its token endpoint is (never
 * plain HTTP from an HTTPS catalogue: credentials go there), and the rest as it is.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` (no usable token_endpoint), `PF_ERR_FETCH`,
 *   `PF_ERR_NOT_FOUND` (the domain advertises no token endpoint).
 */
export async function authorizationServer(
  catalogue: CatalogueClient,
  domain: string,
): Promise<AuthorizationServer> {
  const base = catalogue.baseOf(domain);
  const url = `${base}${AUTHORIZATION_SERVER_PATH}`;
  const what = `token endpoint metadata of ${domain}`;
  const { body } = await catalogue.json(url, MAX_ANSWER_BYTES, what);
  const metadata = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const endpoint = metadata.token_endpoint;
  let parsed: URL | undefined;
  try {
    parsed = typeof endpoint === 'string' ? new URL(endpoint) : undefined;
  } catch {
    // Refused below.
  }
  const allowed = new URL(base).protocol === 'https:' ? ['https:'] : ['https:', 'http:'];
  if (!parsed || !allowed.includes(parsed.protocol)) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `${what}: token_endpoint ${JSON.stringify(endpoint)} is not an ${allowed.join(' or ')} URL`,
      { url, pointer: '/token_endpoint' },
    );
  }
  return { tokenEndpoint: parsed.href, metadata };
}

/** What a token endpoint granted: the domain's access token, its refresh token and lifetime. */
export interface Granted {
  readonly token: string;
  readonly refresh: string;
  /** Seconds. */
  readonly ttl: number;
}

/**
 * Posts a grant (`form`, RFC 6749 §4) to `domain`'s token endpoint `endpoint`, for the user
 * `who` (named in a refusal).
 *
 * @throws ProtoflyError the endpoint's own code for a refusal (`pf_code`, else `PF_ERR_AUTH`;
 *   `detail.status`), `PF_ERR_SCHEMA` for an answer without the tokens, `PF_ERR_FETCH`.
 */
export async function grant(
  catalogue: CatalogueClient,
  domain: string,
  endpoint: string,
  form: Record<string, string>,
  who: string,
): Promise<Granted> {
  const what = `token endpoint of ${domain}`;
  const { status, retryAfter, body } = await catalogue.postForm(
    endpoint,
    form,
    MAX_ANSWER_BYTES,
    what,
    GRANT_TIMEOUT_MS,
  );
  const answer = (body ?? {}) as Record<string, unknown>;
  if (status !== 200) {
    const code = answer.pf_code;
    throw new ProtoflyError(
      isErrorCode(code) ? code : 'PF_ERR_AUTH',
      `${who}: ${what} refused (HTTP ${status} ${String(answer.error)}): ${String(answer.error_description)}`,
      { status, error: answer.error, ...(retryAfter ? { retryAfterSeconds: Number(retryAfter) } : {}) },
    );
  }
  const { access_token: token, refresh_token: refresh, expires_in: ttl } = answer;
  if (typeof token !== 'string' || typeof refresh !== 'string' || typeof ttl !== 'number' || !(ttl > 0)) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `${what}: ${endpoint} answered without access_token, refresh_token and a positive expires_in`,
      { url: endpoint, pointer: '' },
    );
  }
  return { token, refresh, ttl };
}
