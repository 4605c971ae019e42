/**
 * Where the runtime keeps what must outlive a load: verified packages, keys trusted on first
 * use, the newest versions seen. In memory by default; a Node file store and a browser
 * IndexedDB store implement the same three calls.
 */
export interface Store {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A {@link Store} in memory, gone with the process. */
export class MemoryStore implements Store {
  readonly #map = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.#map.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.#map.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#map.delete(key);
  }
}

/**
 * A {@link Store} used as a cache: a write that fails (a full or read-only disk) is reported to
 * `onError` and skipped, since what was to be cached is held in memory already (the loader's
 * verified packages). Reads still fail: a record that cannot be read must not pass for absent.
 */
export class CacheStore implements Store {
  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
  ) {}

  get(key: string): Promise<string | undefined> {
    return this.store.get(key);
  }

  set(key: string, value: string): Promise<void> {
    return this.store.set(key, value).catch(this.onError);
  }

  delete(key: string): Promise<void> {
    return this.store.delete(key).catch(this.onError);
  }
}
