import type { Jwks } from '../../core/generated/types.js';
import { validateJwks } from '../../core/generated/validators.js';
import { assertValid } from '../../core/validate.js';
import { CatalogueClient } from '../../runtime/catalogue.js';

/** Finds a domain's published public keys. */
export type KeysOf = (domain: string) => Promise<Jwks>;

export interface HttpKeysOptions {
  /**
   * Domain → origin (`http://127.0.0.1:8443`) for domains whose keys are not at
   * `https://<domain>`: tests, and domains served from another host.
   */
  readonly origins?: Readonly<Record<string, string>>;
  /** Milliseconds before a fetch is abandoned. Default 5000. */
  readonly timeoutMs?: number;
  /** Largest key set accepted, in bytes. Default 64 KiB. */
  readonly maxBytes?: number;
}

/**
 * Fetches `<origin>/.well-known/protofly/keys` (bounded, timed, as the catalogue client fetches
 * everything) and checks it against the `jwks` schema.
 *
 * @returns a {@link KeysOf} whose promise rejects with a `ProtoflyError`: `PF_ERR_FETCH`
 *   (unreachable, HTTP error, time-out), `PF_ERR_NOT_FOUND`, `PF_ERR_TOO_LARGE` or
 *   `PF_ERR_SCHEMA` (not JSON, not a key set).
 */
export function httpKeysOf(options: HttpKeysOptions = {}): KeysOf {
  const client = new CatalogueClient({
    catalogues: options.origins ?? {},
    timeoutMs: options.timeoutMs ?? 5000,
  });
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return async (domain) => {
    const { body } = await client.json(client.keysUrl(domain), maxBytes, `keys of ${domain}`);
    assertValid(validateJwks, body, `keys of ${domain}`);
    return body;
  };
}
