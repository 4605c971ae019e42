import { stat } from 'node:fs/promises';
import { ProtoflyError } from '../../../core/errors.js';
import type { UserChange, UserDirectory, UserRecord, WriteAtomic } from '../../../server/services/service.js';
import { hashPassword } from './password.js';
import { checkUserName, readUsersFile, type UserEntry, type Users, writeUsersFile } from './users-file.js';

/**
 * A domain's users, from a users file or given inline. The file is read again when it
 * changed on disk (so `protofly users add` takes effect in a running server) and each change
 * is written to it at once; changes to inline users live in memory only.
 *
 * Changes made here are serialised; a change made by another process between this one's read
 * and write is overwritten (last writer wins, each write atomic).
 */
export class UserStore implements UserDirectory {
  readonly file: string | undefined;
  readonly #write: WriteAtomic | undefined;
  #users: Map<string, UserEntry>;
  /** The file's mtime and size when last read; a missing file reads as no users. */
  #seen = '';
  #writing: Promise<unknown> = Promise.resolve();

  /** Users in `file`, read on first use and changed with `write`; or `users` kept in memory. */
  constructor(source: { readonly file: string; readonly write: WriteAtomic } | { readonly users: Users }) {
    this.file = 'file' in source ? source.file : undefined;
    this.#write = 'write' in source ? source.write : undefined;
    this.#users = new Map('users' in source ? source.users : []);
  }

  /** The entry of `name`, from the file as it is now. */
  async entry(name: string): Promise<UserEntry | undefined> {
    return (await this.#current()).get(name);
  }

  async list(): Promise<readonly UserRecord[]> {
    return [...(await this.#current())].map(([name, u]) => ({ name, disabled: u.disabled }));
  }

  async create(name: string, password: string): Promise<UserRecord> {
    checkUserName(name, 'new user');
    const hash = await hashPassword(password);
    return this.#change(name, (users, old) => {
      if (old) throw new ProtoflyError('PF_ERR_EXISTS', `user '${name}' exists`, { name });
      users.set(name, { hash, disabled: false });
    });
  }

  async update(name: string, change: UserChange): Promise<UserRecord> {
    const hash = change.password === undefined ? undefined : await hashPassword(change.password);
    return this.#change(name, (users, old) => {
      if (!old) throw new ProtoflyError('PF_ERR_NOT_FOUND', `no user '${name}'`, { name });
      users.set(name, { hash: hash ?? old.hash, disabled: change.disabled ?? old.disabled });
    });
  }

  /** Applies `edit` to the users as they are on disk now, and writes them back; one change at a time. */
  #change(
    name: string,
    edit: (users: Map<string, UserEntry>, old: UserEntry | undefined) => void,
  ): Promise<UserRecord> {
    const done = this.#writing.then(async () => {
      const users = new Map(await this.#current());
      edit(users, users.get(name));
      if (this.file) await writeUsersFile(this.file, users, this.#write!);
      this.#users = users;
      this.#seen = await this.#version();
      return { name, disabled: users.get(name)!.disabled };
    });
    this.#writing = done.catch(() => {});
    return done;
  }

  async #current(): Promise<Users> {
    if (!this.file) return this.#users;
    const version = await this.#version();
    if (version !== this.#seen) {
      this.#users = version === '' ? new Map() : new Map(await readUsersFile(this.file));
      this.#seen = version;
    }
    return this.#users;
  }

  async #version(): Promise<string> {
    const s = await stat(this.file!).catch(() => undefined);
    return s ? `${s.mtimeMs} ${s.size}` : '';
  }
}
