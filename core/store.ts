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
