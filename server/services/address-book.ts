import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { AddressBookStatus, DirectoryEntry, DirectoryResult } from '../../core/generated/types.js';
import type { AddressBook } from './service.js';

/** A record of an address book's source, before it is checked: strings as the source has them. */
export interface SourceRecord {
  /** The user's name in this domain: the address is `user://<domain>/<name>`. */
  readonly name: string;
  readonly displayName?: string | undefined;
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
  readonly groups?: readonly string[] | undefined;
}

/** Where an address book's entries come from (a domain's config, a directory server). */
export interface AddressSource {
  /** Every record, read anew; rejects (with a coded error) when the source cannot be read. */
  read(): Promise<readonly SourceRecord[]>;
}

export interface SyncedAddressBookOptions {
  readonly domain: string;
  readonly source: AddressSource;
  /** How often the copy is brought up to date on its own; 0: only on demand. */
  readonly intervalMs: number;
  /** A source with more records than this fails the sync (`PF_ERR_DIRECTORY`): the copy stays. Default: none (a source bounded by its own schema). */
  readonly maxEntries?: number;
}

/** The bounds of schemas/address-book.schema.json's DirectoryEntry, and the user name's pattern. */
const NAME = /^[A-Za-z0-9._~-]{1,128}$/;
const MAX_DISPLAY = 256;
const MAX_EMAIL = 256;
const MAX_PHONE = 64;
const MAX_GROUPS = 64;
const MAX_GROUP = 128;

/** One entry of the copy, with what a search compares, lower-cased once at sync. */
interface Indexed {
  readonly entry: DirectoryEntry;
  readonly fields: readonly string[];
}

/**
 * An address book answered from memory and brought up to date from its source: at start, every
 * `intervalMs`, and when asked (`sync()`). Syncs asked for while one runs join it. The copy is
 * replaced whole by a sync that read the source; one that failed leaves the last good copy and
 * says why in its status, which listeners get after every attempt (the node logs and counts
 * it). Records that make no valid entry (a name that is no user name, a field over its bound, a
 * second record of one address) are left out and counted (`skipped`), never half-taken.
 */
export class SyncedAddressBook implements AddressBook {
  readonly #options: SyncedAddressBookOptions;
  readonly #listeners = new Set<(status: AddressBookStatus) => void>();
  #entries: readonly Indexed[] = [];
  #byAddress = new Map<string, DirectoryEntry>();
  #status: AddressBookStatus = { entries: 0, ok: false, skipped: 0 };
  #running: Promise<AddressBookStatus> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: SyncedAddressBookOptions) {
    this.#options = options;
  }

  /** Brings the copy up to date a first time, then every `intervalMs`. */
  async start(): Promise<this> {
    await this.sync();
    if (this.#options.intervalMs > 0 && !this.#closed) {
      this.#timer = setInterval(() => void this.sync(), this.#options.intervalMs);
      // A node that is otherwise done must not be kept alive by its address book.
      this.#timer.unref?.();
    }
    return this;
  }

  search(query: string, limit: number): DirectoryResult {
    const q = query.toLowerCase();
    const starting: DirectoryEntry[] = [];
    const containing: DirectoryEntry[] = [];
    let found = 0;
    for (const { entry, fields } of this.#entries) {
      if (fields.some((f) => f.startsWith(q))) {
        found++;
        if (starting.length < limit) starting.push(entry);
      } else if (fields.some((f) => f.includes(q))) {
        found++;
        if (containing.length < limit) containing.push(entry);
      }
    }
    return { entries: [...starting, ...containing].slice(0, limit), more: found > limit };
  }

  lookup(address: string): DirectoryEntry | undefined {
    return this.#byAddress.get(address);
  }

  status(): AddressBookStatus {
    return this.#status;
  }

  onSync(listener: (status: AddressBookStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  sync(): Promise<AddressBookStatus> {
    this.#running ??= this.#sync().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #sync(): Promise<AddressBookStatus> {
    try {
      const records = await this.#options.source.read();
      const { maxEntries = Number.POSITIVE_INFINITY } = this.#options;
      if (records.length > maxEntries) {
        throw new ProtoflyError(
          'PF_ERR_DIRECTORY',
          `the source has ${records.length} records, over the address book's bound of ${maxEntries}`,
          { limit: maxEntries },
        );
      }
      this.#take(records);
    } catch (err) {
      const e = asProtoflyError(err, 'PF_ERR_DIRECTORY');
      this.#status = {
        ...this.#status,
        ok: false,
        error: { code: e.code, message: e.message.slice(e.code.length + 2) },
      };
    }
    for (const listener of this.#listeners) listener(this.#status);
    return this.#status;
  }

  /** Replaces the copy with the entries `records` make, sorted by display name. */
  #take(records: readonly SourceRecord[]): void {
    const byAddress = new Map<string, DirectoryEntry>();
    let skipped = 0;
    for (const record of records) {
      const entry = entryOf(this.#options.domain, record);
      if (!entry || byAddress.has(entry.address)) skipped++;
      else byAddress.set(entry.address, entry);
    }
    const entries = [...byAddress.values()].sort(
      (a, b) => a.displayName.localeCompare(b.displayName) || a.address.localeCompare(b.address),
    );
    this.#entries = entries.map((entry) => ({
      entry,
      fields: [
        entry.address.slice(entry.address.lastIndexOf('/') + 1),
        entry.displayName,
        entry.email ?? '',
        entry.phone ?? '',
      ].map((f) => f.toLowerCase()),
    }));
    this.#byAddress = byAddress;
    this.#status = { entries: entries.length, syncedAt: Date.now(), ok: true, skipped };
  }
}

/** The entry a record makes, or undefined when it makes none within the schema's bounds. */
export function entryOf(domain: string, r: SourceRecord): DirectoryEntry | undefined {
  const groups = r.groups ?? [];
  if (
    !NAME.test(r.name) ||
    (r.displayName?.length ?? 0) > MAX_DISPLAY ||
    (r.email?.length ?? 0) > MAX_EMAIL ||
    (r.phone?.length ?? 0) > MAX_PHONE ||
    groups.length > MAX_GROUPS ||
    groups.some((g) => g.length === 0 || g.length > MAX_GROUP)
  ) {
    return undefined;
  }
  return {
    address: `user://${domain}/${r.name}`,
    displayName: r.displayName || r.name,
    ...(r.email ? { email: r.email } : {}),
    ...(r.phone ? { phone: r.phone } : {}),
    groups: [...groups],
  };
}
