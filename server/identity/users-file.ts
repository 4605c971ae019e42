import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { userAddress } from '../../core/address.js';
import { ProtoflyError } from '../../core/errors.js';

/**
 * The static users file: a domain's users and their password hashes, in JSON or YAML:
 *
 * ```yaml
 * users:
 *   alice: scrypt$32768$8$1$<salt>$<hash>
 * ```
 *
 * Hashes come from `hashPassword` (password.ts). Issue 6 turns this into the
 * identity-static backend; until then it is the only users store.
 */

/** User name → password hash. */
export type Users = ReadonlyMap<string, string>;

/**
 * Checks parsed users-file content.
 *
 * @param source - where it came from, for error messages
 * @throws ProtoflyError `PF_ERR_CONFIG` naming the bad entry.
 */
export function parseUsers(data: unknown, source: string): Users {
  const users = (data as { users?: unknown } | null)?.users;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) {
    throw new ProtoflyError('PF_ERR_CONFIG', `${source}: 'users' must map user names to password hashes`);
  }
  const out = new Map<string, string>();
  for (const [name, hash] of Object.entries(users)) {
    // A name must make a valid user address; any domain will do for the check.
    try {
      userAddress('example.org', name);
    } catch (err) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `${source}: user name '${name}' cannot be an address`,
        {},
        {
          cause: err,
        },
      );
    }
    if (typeof hash !== 'string' || !hash.startsWith('scrypt$')) {
      throw new ProtoflyError('PF_ERR_CONFIG', `${source}: user '${name}' has no scrypt password hash`);
    }
    out.set(name, hash);
  }
  return out;
}

/**
 * Reads a users file (JSON or YAML).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when it cannot be read or is malformed.
 */
export async function readUsersFile(path: string): Promise<Users> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read users file ${path}: ${(err as Error).message}`, {
      file: path,
    });
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `users file ${path} is not JSON or YAML: ${(err as Error).message}`,
    );
  }
  return parseUsers(data, path);
}
