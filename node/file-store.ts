import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../core/store.js';
import { ifPresent, storageError, writeAtomic } from './files.js';

/**
 * A {@link Store} on disk, one file per key, for Node runtimes: verified packages and keys
 * trusted on first use survive a restart, so a second start downloads no package. A disk
 * that is full, read-only or not writable fails with `PF_ERR_STORAGE`.
 */
export class FileStore implements Store {
  constructor(readonly dir: string) {}

  get(key: string): Promise<string | undefined> {
    return ifPresent(readFile(this.#path(key), 'utf8'), this.#path(key));
  }

  set(key: string, value: string): Promise<void> {
    return writeAtomic(this.#path(key), value, 0o600);
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.#path(key), { force: true });
    } catch (err) {
      throw storageError(err, `delete ${this.#path(key)}`);
    }
  }

  #path(key: string): string {
    return join(this.dir, encodeURIComponent(key));
  }
}
