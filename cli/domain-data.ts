import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ProtoflyError } from '../core/errors.js';
import { ifPresent } from '../node/files.js';
import { readDomainKey } from '../server/catalogue/keys.js';
import type { ReleaseTarget } from '../server/release.js';

/**
 * The catalogue and key of the domain whose data directory `dir` is (what `protofly serve`
 * keeps there): where `release` and `rollback` publish. The domain is the one its key names.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when `dir` holds no domain key, or several and no
 *   `domain` says which.
 */
export async function domainData(dir: string, domain?: string): Promise<ReleaseTarget> {
  const keys = join(resolve(dir), 'keys');
  const files = await ifPresent(readdir(keys), keys, 'list');
  if (!files) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${dir} is not a domain data directory: it has no keys/ folder`,
      {
        dir,
      },
    );
  }
  const named = domain ? [`${domain}.key`] : files.filter((f) => f.endsWith('.key'));
  if (named.length !== 1 || (domain && !files.includes(named[0]!))) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${keys} holds ${named.length > 1 ? 'several domain keys: say which with --domain' : `no ${domain ? `${domain}.key` : 'domain key'}`}`,
      { dir: keys },
    );
  }
  return {
    catalogueDir: join(resolve(dir), 'catalogue'),
    key: await readDomainKey(join(keys, named[0]!), domain),
  };
}
