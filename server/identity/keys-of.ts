import { ProtoflyError } from '../../core/errors.js';
import type { Jwks } from '../../core/generated/types.js';
import { validateJwks } from '../../core/generated/validators.js';
import { schemaError } from '../../core/validate.js';

/** Where a domain publishes its public keys, relative to its origin. */
export const KEYS_PATH = '/.well-known/protofly/keys';

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
 * Fetches `<origin>/.well-known/protofly/keys` and checks it against the `jwks` schema.
 *
 * @returns a {@link KeysOf} whose promise rejects with a `ProtoflyError`: `PF_ERR_FETCH`
 *   (unreachable, HTTP error, time-out, too large, not JSON) or `PF_ERR_SCHEMA`.
 */
export function httpKeysOf(options: HttpKeysOptions = {}): KeysOf {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return async (domain) => {
    const url = `${options.origins?.[domain] ?? `https://${domain}`}${KEYS_PATH}`;
    const fail = (why: string, cause?: unknown): never => {
      throw new ProtoflyError(
        'PF_ERR_FETCH',
        `keys of ${domain} from ${url}: ${why}`,
        { domain, url },
        { cause },
      );
    };
    let text = '';
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      if (!res.ok) fail(`HTTP ${res.status}`);
      text = await readCapped(res, maxBytes);
    } catch (err) {
      if (err instanceof ProtoflyError) throw err;
      fail((err as Error).message, err);
    }
    let jwks: unknown;
    try {
      jwks = JSON.parse(text);
    } catch (err) {
      fail('not JSON', err);
    }
    if (!validateJwks(jwks)) throw schemaError(`keys of ${domain}`, validateJwks.errors ?? []);
    return jwks;
  };
}

/** The body as text, refusing more than `maxBytes` without reading it all. */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (let r = await reader?.read(); r && !r.done; r = await reader?.read()) {
    size += r.value.byteLength;
    if (size > maxBytes) {
      await reader?.cancel();
      throw new ProtoflyError('PF_ERR_FETCH', `${res.url}: key set larger than ${maxBytes} bytes`);
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
