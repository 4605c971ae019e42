import { type FSWatcher, watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { type Logger, pino } from 'pino';
import semver from 'semver';
import { asProtoflyError, ProtoflyError } from '../core/errors.js';
import { exists } from '../node/files.js';
import { integrityOf } from '../runtime/integrity.js';
import { type DomainKey, generateDomainKey, readDomainKey } from './catalogue/keys.js';
import {
  bundlePlugin,
  type Manifest,
  type PublishResult,
  publish,
  publishedVersions,
  readManifest,
} from './catalogue/publish.js';
import { createCatalogueServer } from './catalogue/server.js';
import { type RelayEvent, startRelay } from './dev-relay.js';

/**
 * `protofly dev`: a local domain for a stub being written. Its catalogue serves the stub as a
 * development version (`<version>-dev.N`, a semver prerelease), signed by a development key
 * (which only runtimes with a development policy accept), and publishes the next one whenever a
 * save changes the stub's bundle; runtimes following the domain `live` swap to it. The stub's
 * endpoints (and its `url` setting, if it has one) point at a relay to the protocol's server,
 * which reports every frame into and out of the stub.
 */

export interface DevDomainOptions {
  /** The stub's folder, with its protofly.json. */
  readonly pluginDir: string;
  /**
   * The development key and catalogue, kept between runs: runtimes keep trusting the key (on
   * first use), and versions only go up, as their downgrade protection demands.
   */
  readonly dataDir: string;
  /** The protocol's server, ws:// or wss://, where the relay takes the stubs' connections. */
  readonly upstream: string;
  /** Default `<stub name>.localhost`. */
  readonly domain?: string;
  /** The catalogue's port. Default 0: any free one. */
  readonly port?: number;
  /** Quiet this long after a change before the stub is bundled, in ms. Default 50. */
  readonly settleMs?: number;
  readonly onRelay?: (event: RelayEvent) => void;
  /** Each publication after the first, or why it failed (the domain keeps serving the last one). */
  readonly onPublish?: (event: DevPublish) => void;
  /** The catalogue server's log. Default: warnings on stderr. */
  readonly log?: Logger;
}

export type DevPublish =
  | {
      readonly kind: 'published';
      readonly result: PublishResult;
      /** From the first change seen to the version written into the catalogue. */
      readonly ms: number;
    }
  | { readonly kind: 'failed'; readonly error: ProtoflyError };

export interface DevDomain {
  readonly domain: string;
  readonly catalogueUrl: string;
  readonly relayUrl: string;
  /** The development key's file: what `protofly chat --key` mints tokens with. */
  readonly keyFile: string;
  /** The version published at start. */
  readonly first: PublishResult;
  close(): Promise<void>;
}

/**
 * Starts the development domain and publishes the stub's first development version.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` for a folder that holds no stub, a stub that does not
 *   bundle, a data directory whose key is not a development key or whose versions are newer
 *   than the manifest's; `PF_ERR_SCHEMA` for a manifest its schema refuses.
 */
export async function startDevDomain(options: DevDomainOptions): Promise<DevDomain> {
  const { pluginDir, dataDir } = options;
  const manifest = await readManifest(pluginDir);
  if (manifest.kind !== 'stub') {
    throw new ProtoflyError('PF_ERR_CONFIG', `${pluginDir} is a ${manifest.kind}; protofly dev runs stubs`, {
      kind: manifest.kind,
    });
  }
  const domain = options.domain ?? `${manifest.name}.localhost`;
  const keyFile = join(dataDir, 'keys', `${domain}.key`);
  const key = await developmentKey(domain, keyFile);
  const out = join(dataDir, 'catalogue');
  const relay = await startRelay({ upstream: options.upstream, onEvent: options.onRelay ?? (() => {}) });
  const log = options.log ?? pino({ name: 'catalogue', level: 'warn' }, pino.destination(2));
  // A runtime asks again at once: what it reads is a moment old.
  const catalogue = createCatalogueServer({ dir: out, prereleases: true, descriptorMaxAge: 0, log });
  const publisher = new Publisher(pluginDir, key, out, relay.url, options);
  let stopWatching = () => {};
  try {
    const catalogueUrl = await catalogue.listen(options.port ?? 0);
    const first = await publisher.publish();
    stopWatching = watchFolder(pluginDir, () => publisher.changed());
    return {
      domain,
      catalogueUrl,
      relayUrl: relay.url,
      keyFile,
      first: first!,
      async close() {
        stopWatching();
        await publisher.close();
        await catalogue.close();
        await relay.close();
      },
    };
  } catch (err) {
    stopWatching();
    await catalogue.close();
    await relay.close();
    throw err;
  }
}

/** Publishes a development version of the stub on each change of its bundle, one at a time. */
class Publisher {
  /** The integrity of the newest version published by this run. */
  #last: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the first change not yet published was seen. */
  #since: number | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(
    readonly pluginDir: string,
    readonly key: DomainKey,
    readonly out: string,
    readonly relayUrl: string,
    readonly options: DevDomainOptions,
  ) {}

  /** A file changed: publish once the folder has been quiet for a moment. */
  changed(): void {
    if (this.#closed) return;
    this.#since ??= performance.now();
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), this.options.settleMs ?? 50);
  }

  /** The next development version, unless the bundle is the one published last (undefined then). */
  async publish(): Promise<PublishResult | undefined> {
    const manifest = await readManifest(this.pluginDir);
    const bundle = await bundlePlugin(this.pluginDir, manifest.entry, 'stub', false);
    const integrity = await integrityOf(bundle.code);
    if (integrity === this.#last) return undefined;
    const url = takesUrl(manifest) ? { url: this.relayUrl } : {};
    const result = await publish({
      pluginDir: this.pluginDir,
      key: this.key,
      out: this.out,
      version: await nextVersion(this.out, manifest),
      deployment: { endpoints: [this.relayUrl], defaults: url },
      makeDefault: true,
      complete: true,
    });
    this.#last = result.descriptor.sourcePackage.integrity;
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #run(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        const since = this.#since ?? performance.now();
        this.#since = undefined;
        try {
          const result = await this.publish();
          if (result) this.options.onPublish?.({ kind: 'published', result, ms: performance.now() - since });
        } catch (err) {
          this.options.onPublish?.({ kind: 'failed', error: asProtoflyError(err, 'PF_ERR_CONFIG') });
        }
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = undefined;
    });
  }
}

/** Whether the stub's configuration has a `url` setting, which the relay's URL fills in. */
function takesUrl(manifest: Manifest): boolean {
  const schema = manifest.configuration?.schema as { properties?: Record<string, unknown> } | undefined;
  return schema?.properties?.url !== undefined;
}

/**
 * `<x.y.z>-dev.<N>` for the manifest's version x.y.z: N one more than the highest published for
 * it, so that versions only go up across runs.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when a newer version is published already (the
 *   manifest's version was lowered): runtimes would refuse the next one as a downgrade.
 */
async function nextVersion(out: string, manifest: Manifest): Promise<string> {
  const base = semver.parse(manifest.version);
  if (!base) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `protofly.json: version '${manifest.version}' is not a semantic version`,
      {
        version: manifest.version,
      },
    );
  }
  const core = `${base.major}.${base.minor}.${base.patch}`;
  const published = await publishedVersions(out, 'stub', manifest.name);
  let n = 0;
  for (const v of published) {
    const p = semver.parse(v);
    const [tag, number] = p?.prerelease ?? [];
    if (p && `${p.major}.${p.minor}.${p.patch}` === core && tag === 'dev' && typeof number === 'number') {
      n = Math.max(n, number);
    }
  }
  const next = `${core}-dev.${n + 1}`;
  const newest = published[0];
  if (newest && !semver.gt(next, newest)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${manifest.name}@${newest} is published already, newer than ${next}: raise protofly.json's version (runtimes refuse a downgrade)`,
      { version: next, newest },
    );
  }
  return next;
}

/**
 * The development key at `file`, made the first time.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when the file holds a key not marked as a development
 *   key: a domain's own key never signs a development version.
 */
async function developmentKey(domain: string, file: string): Promise<DomainKey> {
  if (!(await exists(file))) return generateDomainKey(domain, join(file, '..'), true);
  const key = await readDomainKey(file, domain);
  if (!key.publicJwk.development) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${file} is not a development key: protofly dev signs with its own key, never a domain's (choose another data folder)`,
      { file },
    );
  }
  return key;
}

/** What never changes a stub: installed packages, a dev domain's data, editors' dot-files. */
const ignored = (name: string) =>
  name.split(sep).some((part) => part === 'node_modules' || part.startsWith('.'));

/**
 * Calls `onChange` when a file of `dir` changes: the folder itself, and each of its subfolders
 * (found again as they appear) recursively, but what {@link ignored} names, so that an installed
 * `node_modules` costs no watches. Returns what stops watching.
 */
function watchFolder(dir: string, onChange: () => void): () => void {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  const add = (path: string, recursive: boolean, then: () => void) => {
    if (closed || watchers.has(path)) return;
    try {
      const watcher = watch(path, { recursive, persistent: false }, (_event, file) => {
        if (file === null || !ignored(file)) then();
      });
      watcher.on('error', () => {
        watcher.close();
        watchers.delete(path);
      });
      watchers.set(path, watcher);
    } catch {
      // Gone meanwhile: nothing to watch.
    }
  };
  const subfolders = () =>
    void readdir(dir, { withFileTypes: true })
      .then((entries) => {
        for (const e of entries)
          if (e.isDirectory() && !ignored(e.name)) add(join(dir, e.name), true, onChange);
      })
      .catch(() => {});
  add(dir, false, () => {
    subfolders();
    onChange();
  });
  subfolders();
  return () => {
    closed = true;
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  };
}
