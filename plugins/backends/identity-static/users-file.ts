import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { userAddress } from '../../../core/address.js';
import { ProtoflyError } from '../../../core/errors.js';
import type { WriteAtomic } from '../../../server/services/service.js';

/**
 * The static users file: a domain's users and their password hashes, in JSON or YAML. A
 * disabled user keeps its hash (enabling it again needs no new password):
 *
 * ```yaml
 * users:
 *   alice: scrypt$32768$8$1$<salt>$<hash>
 *   mallory: { hash: scrypt$32768$8$1$<salt>$<hash>, disabled: true }
 * ```
 *
 * Hashes come from `hashPassword` (password.ts).
 */

/** One user's entry. */
export interface UserEntry {
  readonly hash: string;
  readonly disabled: boolean;
}

/** User name → entry. */
export type Users = ReadonlyMap<string, UserEntry>;

/**
 * Checks that `name` can be the name part of a user address.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` naming it and `source`.
 */
export function checkUserName(name: string, source: string): void {
  try {
    // Any domain will do for the check.
    userAddress('example.org', name);
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${source}: user name '${name}' cannot be an address`,
      { name },
      {
        cause: err,
      },
    );
  }
}

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
  const out = new Map<string, UserEntry>();
  for (const [name, value] of Object.entries(users)) {
    checkUserName(name, source);
    const entry =
      typeof value === 'string' ? { hash: value, disabled: false } : (value as Partial<UserEntry>);
    if (typeof entry?.hash !== 'string' || !entry.hash.startsWith('scrypt$')) {
      throw new ProtoflyError('PF_ERR_CONFIG', `${source}: user '${name}' has no scrypt password hash`);
    }
    out.set(name, { hash: entry.hash, disabled: entry.disabled === true });
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

/**
 * Writes a users file as YAML, with `write` (atomic: the host's), readable by its owner only
 * (hashes are secrets worth guarding even so).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when it cannot be written.
 */
export async function writeUsersFile(path: string, users: Users, write: WriteAtomic): Promise<void> {
  const data = Object.fromEntries(
    [...users].map(([name, u]) => [name, u.disabled ? { hash: u.hash, disabled: true } : u.hash]),
  );
  try {
    await write(path, stringify({ users: data }), 0o600);
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot write users file ${path}: ${(err as Error).message}`, {
      file: path,
    });
  }
}
