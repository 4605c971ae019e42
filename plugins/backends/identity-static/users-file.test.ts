import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeAtomic } from '../../../test/support/backends.js';
import { parseUsers, readUsersFile, writeUsersFile } from './users-file.js';

const HASH = 'scrypt$32768$8$1$c2FsdA$aGFzaA';

describe('users file', () => {
  it('reads YAML and JSON alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'users-'));
    await writeFile(join(dir, 'users.yaml'), `users:\n  alice: ${HASH}\n`);
    await writeFile(join(dir, 'users.json'), JSON.stringify({ users: { bob: HASH } }));
    expect([...(await readUsersFile(join(dir, 'users.yaml')))]).toEqual([
      ['alice', { hash: HASH, disabled: false }],
    ]);
    expect([...(await readUsersFile(join(dir, 'users.json')))]).toEqual([
      ['bob', { hash: HASH, disabled: false }],
    ]);
  });

  it('writes what it reads, disabled users with their hash, readable by the owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'users-'));
    const file = join(dir, 'users.yaml');
    const users = new Map([
      ['alice', { hash: HASH, disabled: false }],
      ['mallory', { hash: HASH, disabled: true }],
    ]);
    await writeUsersFile(file, users, writeAtomic);
    expect(await readUsersFile(file)).toEqual(users);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('names the entry that is wrong', () => {
    expect(() => parseUsers({ users: { 'a/b': HASH } }, 'u.yaml')).toThrow(
      "PF_ERR_CONFIG: u.yaml: user name 'a/b' cannot be an address",
    );
    expect(() => parseUsers({ users: { carol: 'plain' } }, 'u.yaml')).toThrow(
      "PF_ERR_CONFIG: u.yaml: user 'carol' has no scrypt password hash",
    );
    expect(() => parseUsers({ users: [] }, 'u.yaml')).toThrow("PF_ERR_CONFIG: u.yaml: 'users' must map");
    expect(() => parseUsers({ users: { dave: { disabled: true } } }, 'u.yaml')).toThrow(
      "PF_ERR_CONFIG: u.yaml: user 'dave' has no scrypt password hash",
    );
  });

  it('says which file cannot be read', async () => {
    await expect(readUsersFile('/nonexistent/users.yaml')).rejects.toThrow(
      'PF_ERR_CONFIG: cannot read users file /nonexistent/users.yaml',
    );
  });
});
