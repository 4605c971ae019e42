import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import semver from 'semver';
import type { PluginKind } from '../../runtime/catalogue.js';
import type { PublishNotice } from '../../runtime/updates.js';
import { layout } from './layout.js';

const KINDS: readonly PluginKind[] = ['stub', 'backend'];
/** Publishing writes several files (package, keys, aliases, descriptor last): scan once they are all there. */
const SETTLE_MS = 20;

/**
 * Notices what `protofly publish` (or anyone) adds to a catalogue directory while the
 * catalogue runs: `fs.watch` for promptness, and a cheap periodic scan (a few `readdir`s) for
 * what a watch misses (a folder made after the watch started, a platform or filesystem
 * without recursive watching). The first scan is the baseline: what is there already is not
 * news.
 */
export class CatalogueChanges {
  readonly #dir: string;
  readonly #onPublish: (notice: PublishNotice) => void;
  readonly #scanMs: number;
  #known: Set<string> | undefined;
  #defaultStub: string | undefined;
  #watcher: FSWatcher | undefined;
  #interval: ReturnType<typeof setInterval> | undefined;
  #settle: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(dir: string, onPublish: (notice: PublishNotice) => void, scanMs: number) {
    this.#dir = dir;
    this.#onPublish = onPublish;
    this.#scanMs = scanMs;
  }

  /** Takes the baseline, then watches. */
  async start(): Promise<void> {
    await this.#scan();
    this.#watch();
    this.#interval = setInterval(() => {
      this.#watch();
      void this.#scan();
    }, this.#scanMs);
    this.#interval.unref();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#interval);
    clearTimeout(this.#settle);
    this.#watcher?.close();
  }

  /** Watches the directory unless it does already (or it does not exist yet: the next tick tries again). */
  #watch(): void {
    if (this.#watcher || this.#closed) return;
    try {
      this.#watcher = watch(this.#dir, { recursive: true, persistent: false }, () => {
        clearTimeout(this.#settle);
        this.#settle = setTimeout(() => void this.#scan(), SETTLE_MS);
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      this.#watcher = undefined;
    }
  }

  /** Scans, one scan at a time; a request during a scan runs one more after it. */
  #scan(): Promise<void> {
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = this.#compare().finally(() => {
      this.#scanning = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.#scan();
      }
    });
    return this.#scanning;
  }

  async #compare(): Promise<void> {
    const found = new Map<string, PublishNotice>();
    for (const kind of KINDS) {
      for (const name of await names(layout.plugin(this.#dir, kind, ''))) {
        for (const file of await names(layout.plugin(this.#dir, kind, name))) {
          const version = file.endsWith('.json') ? file.slice(0, -'.json'.length) : '';
          if (semver.valid(version)) found.set(`${kind}/${name}/${version}`, { kind, name, version });
        }
      }
    }
    const defaultStub = await defaultStubOf(this.#dir, this.#defaultStub);
    const known = this.#known;
    const previousDefault = this.#defaultStub;
    this.#known = new Set(found.keys());
    this.#defaultStub = defaultStub;
    if (!known || this.#closed) return;
    const fresh = [...found.entries()].filter(([key]) => !known.has(key)).map(([, notice]) => notice);
    if (defaultStub !== previousDefault && defaultStub !== undefined) {
      const newest = [...found.values()]
        .filter((n) => n.kind === 'stub' && n.name === defaultStub)
        .sort((a, b) => semver.rcompare(a.version, b.version))[0];
      if (newest && !fresh.includes(newest)) fresh.push(newest);
    }
    fresh.sort((a, b) => semver.compare(a.version, b.version));
    for (const notice of fresh) this.#onPublish(notice);
  }
}

/** The entries of a folder; none when it does not exist (yet). */
function names(folder: string): Promise<string[]> {
  return readdir(folder).catch(() => []);
}

/** The plugin `stub/default` names in aliases.json, if any; `previous` while the file cannot be read as JSON. */
async function defaultStubOf(dir: string, previous: string | undefined): Promise<string | undefined> {
  const text = await readFile(layout.aliases(dir), 'utf8').catch(() => undefined);
  try {
    const target = (JSON.parse(text ?? '{}') as Record<string, unknown>)['stub/default'];
    return typeof target === 'string' ? target : undefined;
  } catch {
    // Being rewritten by a tool that does not write atomically: the next scan sees it.
    return previous;
  }
}
