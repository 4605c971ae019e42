import { readFile } from 'node:fs/promises';
import { parseAddress } from '../core/address.js';
import { ProtoflyError } from '../core/errors.js';
import type { PasswordIdentity } from '../entry/node-runtime.js';
import type { RuntimeIdentity } from '../runtime/runtime.js';
import { localService } from '../server/backends/local-service.js';
import { readDomainKey } from '../server/catalogue/keys.js';

/**
 * How a person at the terminal becomes a user for a runtime: one way per variant, each
 * turning into the identity a runtime takes.
 */
export type Login =
  /** Tokens minted with the home domain's own key, as the domain would issue them (its operator, the demo). */
  | { readonly address: string; readonly key: string }
  /** One token, issued beforehand, shown to every domain. */
  | { readonly address: string; readonly tokenFile: string }
  /** A password, logged in at the home domain's token endpoint by the runtime. */
  | { readonly address: string; readonly password: string };

/** Token lifetime when minted with the domain key, in seconds. */
const TTL_SECONDS = 600;

/**
 * The identity of a login.
 *
 * @throws ProtoflyError `PF_ERR_ADDRESS` for an address that is not a user's, `PF_ERR_CONFIG`
 *   for an unreadable token file or a key of another domain than the address's.
 */
export async function login(how: Login): Promise<RuntimeIdentity | PasswordIdentity> {
  const { address } = how;
  const home = parseAddress(address);
  if (home.scheme !== 'user') {
    throw new ProtoflyError('PF_ERR_ADDRESS', `${address} is not a user address (user://<domain>/<name>)`, {
      address,
    });
  }
  if ('password' in how) return { address, password: how.password };
  if ('key' in how) {
    const key = await readDomainKey(how.key, home.domain);
    const issuer = await localService('identity', { dataDir: process.cwd(), key, config: { users: {} } });
    return { address, token: (audience) => issuer.issue(address, TTL_SECONDS, audience) };
  }
  let token: string;
  try {
    token = (await readFile(how.tokenFile, 'utf8')).trim();
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `cannot read token file ${how.tokenFile}: ${(err as Error).message}`,
      {
        file: how.tokenFile,
      },
    );
  }
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
    throw new ProtoflyError('PF_ERR_CONFIG', `token file ${how.tokenFile} holds no JWT`, {
      file: how.tokenFile,
    });
  }
  return { address, token: async () => token };
}
