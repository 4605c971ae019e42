import { ProtoflyError } from '../core/errors.js';
import type { Store } from '../core/store.js';

/**
 * A {@link Store} in IndexedDB: what a browser runtime keeps across page loads (keys trusted on
 * first use, the newest versions seen, verified packages), one object store per name in one
 * database per origin. A failure (storage refused, quota) is `PF_ERR_STORAGE`, so that a record
 * that cannot be read never passes for absent.
 */
export class IdbStore implements Store {
  readonly #db: Promise<IDBDatabase>;
  readonly #name: string;

  /**
   * @param database - the IndexedDB database, shared by a runtime's stores
   * @param name - this store's object store in it (`trust`, `packages`)
   */
  constructor(database: Promise<IDBDatabase>, name: string) {
    this.#db = database;
    this.#name = name;
  }

  get(key: string): Promise<string | undefined> {
    return this.#run('readonly', (s) => s.get(key), `read ${key}`) as Promise<string | undefined>;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#run('readwrite', (s) => s.put(value, key), `write ${key}`);
  }

  async delete(key: string): Promise<void> {
    await this.#run('readwrite', (s) => s.delete(key), `delete ${key}`);
  }

  /** One request in its own transaction, settled once the transaction is done (durable for writes). */
  async #run(
    mode: IDBTransactionMode,
    op: (s: IDBObjectStore) => IDBRequest,
    what: string,
  ): Promise<unknown> {
    const db = await this.#db;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown) =>
        reject(
          new ProtoflyError(
            'PF_ERR_STORAGE',
            `IndexedDB ${db.name}/${this.#name}: could not ${what}: ${(err as Error)?.message ?? String(err)}`,
            { store: this.#name },
            { cause: err },
          ),
        );
      try {
        const tx = db.transaction(this.#name, mode);
        const request = op(tx.objectStore(this.#name));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => fail(tx.error);
        tx.onabort = () => fail(tx.error ?? new Error('transaction aborted'));
      } catch (err) {
        fail(err);
      }
    });
  }
}

/**
 * Opens (creating at first use) the IndexedDB database `name` with an object store for each of
 * `stores`.
 *
 * @throws ProtoflyError `PF_ERR_STORAGE` when the browser refuses IndexedDB (a private window
 *   that forbids it, storage disabled).
 */
export function openDatabase(name: string, stores: readonly string[]): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) =>
      reject(
        new ProtoflyError(
          'PF_ERR_STORAGE',
          `IndexedDB ${name} cannot be opened: ${(err as Error)?.message ?? String(err)}`,
          { database: name },
          { cause: err },
        ),
      );
    try {
      // Version 1 is the one schema: the stores are fixed, their records are strings.
      const open = indexedDB.open(name, 1);
      open.onupgradeneeded = () => {
        for (const s of stores)
          if (!open.result.objectStoreNames.contains(s)) open.result.createObjectStore(s);
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => fail(open.error);
      open.onblocked = () => fail(new Error('blocked by another open connection at an older version'));
    } catch (err) {
      fail(err);
    }
  });
}
