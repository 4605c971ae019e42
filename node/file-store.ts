import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../core/store.js';
import { writeAtomic } from './files.js';

/**
 * A {@link Store} on disk, one file per key, for Node runtimes: verified packages and keys
 * trusted on first use survive a restart, so a second start downloads no package.
 */
export class FileStore implements Store {
  constructor(readonly dir: string) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.#path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  set(key: string, value: string): Promise<void> {
    return writeAtomic(this.#path(key), value, 0o600);
  }

  delete(key: string): Promise<void> {
    return rm(this.#path(key), { force: true });
  }

  #path(key: string): string {
    return join(this.dir, encodeURIComponent(key));
  }
}
