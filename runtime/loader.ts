// One module per function, not the package's index: a page's bundle takes only these.
import gt from 'semver/functions/gt.js';
import lt from 'semver/functions/lt.js';
import satisfies from 'semver/functions/satisfies.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import { ProtoflyError } from '../core/errors.js';
import { validateBackendDescriptor, validateStubDescriptor } from '../core/generated/validators.js';
import { VERSION } from '../core/generated/version.js';
import type { Descriptor, VerifiedPackage } from '../core/plugin.js';
import { MemoryStore, type Store } from '../core/store.js';
import { assertValid } from '../core/validate.js';
import { CatalogueClient, type Fetched, type PluginKind } from './catalogue.js';
import { assertIntegrity } from './integrity.js';
import {
  assertPolicy,
  assertSigner,
  type PolicyOption,
  type ResolvedPolicy,
  resolvePolicy,
} from './policy.js';
import { assertSignature } from './signature.js';
import type { TrustStore } from './trust.js';

/**
 * The loader: a plugin reference in, a {@link VerifiedPackage} out, or a coded refusal.
 *
 * In order: fetch the descriptor (bounded, timed), schema, that it is the one asked for (kind,
 * domain, name, version within the range), signature against a key trusted for its domain,
 * the runtime policy (package origin, configuration schema, a stub's endpoints and limits),
 * engine range, downgrade, declared size, then the package: from memory, from
 * the store (hash checked again), or downloaded once however many loads ask, bounded by its
 * declared size and checked against its integrity. Nothing is returned before every check
 * passed, so nothing unverified can be instantiated.
 */

/** What to load: a domain's stub (`default` unless named) or backend, optionally within a semver range. */
export interface LoadRequest {
  readonly domain: string;
  readonly kind?: PluginKind;
  readonly name?: string;
  readonly range?: string;
}

/** One check the loader passed, for CLIs and demos that show their work. */
export interface CheckEvent {
  readonly url: string;
  readonly check:
    | 'descriptor'
    | 'schema'
    | 'domain'
    | 'signature'
    | 'policy'
    | 'engine'
    | 'downgrade'
    | 'package'
    | 'integrity';
  readonly detail: string;
}

export interface LoaderOptions {
  readonly trust: TrustStore;
  readonly catalogue?: CatalogueClient;
  /** Verified packages and the newest version seen per reference outlive the process here. Default: memory. */
  readonly store?: Store;
  /** A semver range per domain, used when a request names none. */
  readonly ranges?: Readonly<Record<string, string>>;
  /** The protofly version plugins' engine ranges must include. Default: this one. */
  readonly engine?: string;
  /** Largest package accepted, in bytes. Default 4 MiB. */
  readonly maxPackageBytes?: number;
  /** What any descriptor may ask for. Default: the safe default policy (no loopback, no private addresses). */
  readonly policy?: PolicyOption;
  readonly onCheck?: (event: CheckEvent) => void;
}

const MAX_DESCRIPTOR_BYTES = 64 * 1024;
const MAX_KEYS_BYTES = 64 * 1024;
/** Verified package sources kept in memory, newest last. */
const MEMORY_PACKAGES = 64;

const VALIDATORS = { stub: validateStubDescriptor, backend: validateBackendDescriptor } as const;

export class Loader {
  readonly catalogue: CatalogueClient;
  readonly #trust: TrustStore;
  readonly #store: Store;
  readonly #ranges: Readonly<Record<string, string>>;
  readonly #engine: string;
  readonly #maxPackageBytes: number;
  readonly #policy: ResolvedPolicy;
  readonly #onCheck: (event: CheckEvent) => void;
  /** Verified results by descriptor URL, reused while the catalogue's max-age allows. */
  readonly #verified = new Map<string, { pkg: VerifiedPackage; expires: number }>();
  readonly #loading = new Map<string, Promise<VerifiedPackage>>();
  readonly #sources = new Map<string, string>();
  readonly #downloading = new Map<string, Promise<string>>();

  constructor(options: LoaderOptions) {
    this.catalogue = options.catalogue ?? new CatalogueClient();
    this.#trust = options.trust;
    this.#store = options.store ?? new MemoryStore();
    this.#ranges = options.ranges ?? {};
    this.#engine = options.engine ?? VERSION;
    this.#maxPackageBytes = options.maxPackageBytes ?? 4 * 1024 * 1024;
    this.#policy = resolvePolicy(options.policy);
    this.#onCheck = options.onCheck ?? (() => {});
  }

  /**
   * Loads and verifies a domain's plugin. The catalogue must serve that very plugin: another
   * kind, domain or name, or a version outside the range, is refused.
   *
   * @throws ProtoflyError `PF_ERR_CONFIG` for a range that is not a semver range, else any
   *   verification refusal (see the class).
   */
  load(req: LoadRequest): Promise<VerifiedPackage> {
    const kind = req.kind ?? 'stub';
    const name = req.name ?? 'default';
    const range = req.range ?? this.#ranges[req.domain];
    if (range !== undefined && validRange(range) === null) {
      return Promise.reject(
        new ProtoflyError('PF_ERR_CONFIG', `range '${range}' for ${req.domain} is not a semver range`, {
          range,
        }),
      );
    }
    const url = this.catalogue.descriptorUrl(req.domain, kind, name, range);
    // `default` names whichever plugin the domain chose.
    const asked = {
      kind,
      domain: req.domain,
      ...(name === 'default' ? {} : { name }),
      ...(range === undefined ? {} : { range }),
    };
    return this.#load(url, asked, `${req.domain}/${kind}/${name}@${range ?? '*'}`);
  }

  /**
   * Loads and verifies the descriptor at `url`, for whatever domain it names. That domain's keys
   * come from its own catalogue (configured, else `https://<domain>`), never from `url`'s
   * origin: a descriptor anyone can serve verifies only under the keys its domain publishes, and
   * only those are recorded on first use.
   */
  async loadUrl(url: string, kind: PluginKind = 'stub'): Promise<VerifiedPackage> {
    const fetched = await this.catalogue.json(url, MAX_DESCRIPTOR_BYTES, 'descriptor');
    return this.#verify(url, { kind }, `url:${url}`, fetched);
  }

  /**
   * Forgets verified results (of `domain`, or all), not trusted keys nor the versions seen, so
   * the next load asks the catalogue.
   */
  refresh(domain?: string): void {
    for (const [url, { pkg }] of this.#verified) {
      if (domain === undefined || pkg.descriptor.domain === domain) this.#verified.delete(url);
    }
    // A load under way may have fetched its descriptor before what prompted the refresh: the
    // next load starts afresh (the one under way still settles for whoever awaits it).
    const base = domain === undefined ? '' : `${this.catalogue.baseOf(domain)}/`;
    for (const url of this.#loading.keys()) if (url.startsWith(base)) this.#loading.delete(url);
  }

  #load(url: string, asked: Asked, ref: string): Promise<VerifiedPackage> {
    const cached = this.#verified.get(url);
    if (cached && cached.expires > Date.now()) return Promise.resolve(cached.pkg);
    let loading = this.#loading.get(url);
    if (!loading) {
      const started = this.#verify(url, asked, ref).finally(() => {
        if (this.#loading.get(url) === started) this.#loading.delete(url);
      });
      loading = started;
      this.#loading.set(url, loading);
    }
    return loading;
  }

  async #verify(
    url: string,
    asked: Asked,
    ref: string,
    fetched?: Fetched<unknown>,
  ): Promise<VerifiedPackage> {
    const { kind } = asked;
    // On first use, the domain's keys are fetched alongside its descriptor, not after it: they
    // come from the domain's own catalogue whatever the descriptor says, and are recorded only
    // when the descriptor, once checked, asks for them.
    const early = asked.domain === undefined ? undefined : this.#earlyKeys(asked.domain);
    const { body, maxAge } = fetched ?? (await this.catalogue.json(url, MAX_DESCRIPTOR_BYTES, 'descriptor'));
    this.#check(url, 'descriptor', `${url}`);
    // Another kind would fail the schema somewhere; say what is wrong instead.
    const served = (body as { kind?: unknown } | null)?.kind;
    if (served !== undefined && served !== kind) throw notAsked(url, 'kind', kind, served);
    assertValid(VALIDATORS[kind] as (d: unknown) => d is Descriptor, body, `${kind} descriptor`);
    const d = body;
    // The schema's pattern lets through versions semver cannot compare (a part over 2^53).
    if (valid(d.version) === null) {
      throw new ProtoflyError(
        'PF_ERR_SCHEMA',
        `${kind} descriptor: /version '${d.version}' is out of range`,
        {
          pointer: '/version',
        },
      );
    }
    this.#check(url, 'schema', `${kind} descriptor ${d.name}@${d.version}`);
    const id = `${d.domain}/${d.name}@${d.version}`;
    if (asked.domain !== undefined && d.domain !== asked.domain) {
      throw new ProtoflyError(
        'PF_ERR_UNTRUSTED_KEY',
        `${id}: the catalogue of ${asked.domain} served a descriptor of ${d.domain}`,
        {
          domain: asked.domain,
          claimed: d.domain,
        },
      );
    }
    if (asked.name !== undefined && d.name !== asked.name) throw notAsked(url, 'name', asked.name, d.name);
    if (asked.range !== undefined && !satisfies(d.version, asked.range)) {
      throw notAsked(url, 'version', asked.range, d.version);
    }
    this.#check(url, 'domain', asked.range === undefined ? d.domain : `${id}, within ${asked.range}`);

    const trusted = await this.#trust.keyFor(
      d.domain,
      d.signature.keyId,
      async () => (await early) ?? this.#publishedKeys(d.domain),
    );
    assertSigner(d, trusted, this.#policy);
    await assertSignature(d, trusted.key);
    this.#check(url, 'signature', `Ed25519 by ${trusted.id} (${trusted.how})`);

    // Before anything the descriptor names is fetched or compiled.
    const packageUrl = packageUrlOf(d, url);
    assertPolicy(d, url, packageUrl, this.#policy);
    this.#check(
      url,
      'policy',
      'package origin, configuration schema, endpoints and limits within the policy',
    );

    if (!satisfies(this.#engine, d.engine, { includePrerelease: true })) {
      throw new ProtoflyError('PF_ERR_ENGINE', `${id} needs protofly ${d.engine}; this is ${this.#engine}`, {
        engine: d.engine,
        version: this.#engine,
      });
    }
    this.#check(url, 'engine', `${d.engine} includes ${this.#engine}`);

    const seenKey = `seen:${ref}`;
    const seen = await this.#store.get(seenKey);
    // The store is outside our control (a disk): what it says must still be a version.
    if (seen !== undefined && valid(seen) === null) {
      throw new ProtoflyError(
        'PF_ERR_DOWNGRADE',
        `${id}: the version recorded as seen for ${ref} is not a version (${shortly(seen)}); the store is damaged`,
        { offered: d.version, seen },
      );
    }
    if (seen !== undefined && lt(d.version, seen)) {
      throw new ProtoflyError('PF_ERR_DOWNGRADE', `${id} is older than ${seen}, already seen for ${ref}`, {
        offered: d.version,
        seen,
      });
    }
    this.#check(url, 'downgrade', seen === undefined ? 'first version seen' : `not older than ${seen}`);

    const source = await this.#package(d, url, packageUrl);
    if (seen === undefined || gt(d.version, seen)) await this.#store.set(seenKey, d.version);
    const pkg: VerifiedPackage = { descriptor: d, source, url, signedBy: trusted.id };
    this.#verified.set(url, { pkg, expires: Date.now() + maxAge * 1000 });
    return pkg;
  }

  /** `domain`'s published keys, from its own catalogue. */
  async #publishedKeys(domain: string): Promise<unknown> {
    return (await this.catalogue.json(this.catalogue.keysUrl(domain), MAX_KEYS_BYTES, `keys of ${domain}`))
      .body;
  }

  /**
   * `domain`'s published keys fetched now when the trust store will want them (its first use),
   * else undefined. A failure is the load's only if the keys are then asked for.
   */
  #earlyKeys(domain: string): Promise<unknown> {
    const keys = (async () =>
      (await this.#trust.firstUse(domain)) ? this.#publishedKeys(domain) : undefined)();
    keys.catch(() => {});
    return keys;
  }

  /** The verified source of a descriptor's package, downloaded at most once at a time. */
  async #package(d: Descriptor, url: string, packageUrl: string): Promise<string> {
    const { integrity, size } = d.sourcePackage;
    const id = `${d.domain}/${d.name}@${d.version}`;
    if (size > this.#maxPackageBytes) {
      throw new ProtoflyError(
        'PF_ERR_TOO_LARGE',
        `${id}: package is ${size} bytes, over the limit of ${this.#maxPackageBytes}`,
        {
          size,
          limit: this.#maxPackageBytes,
        },
      );
    }
    const inMemory = this.#sources.get(integrity);
    if (inMemory !== undefined) {
      this.#check(url, 'package', 'in memory');
      return inMemory;
    }
    let pending = this.#downloading.get(integrity);
    if (!pending) {
      pending = this.#fetchPackage(d, url, packageUrl).finally(() => this.#downloading.delete(integrity));
      this.#downloading.set(integrity, pending);
    }
    const source = await pending;
    this.#sources.set(integrity, source);
    if (this.#sources.size > MEMORY_PACKAGES)
      this.#sources.delete(this.#sources.keys().next().value as string);
    return source;
  }

  async #fetchPackage(d: Descriptor, url: string, packageUrl: string): Promise<string> {
    const { integrity, size } = d.sourcePackage;
    const id = `${d.domain}/${d.name}@${d.version}`;
    const storeKey = `pkg:${integrity}`;
    const stored = await this.#store.get(storeKey);
    if (stored !== undefined) {
      this.#check(url, 'package', 'from the store');
      // The store is outside our control (a disk; in a page, IndexedDB, which any script of the
      // page's origin may write): check it again, so that what was put there runs nowhere.
      await assertIntegrity(new TextEncoder().encode(stored), integrity, `${id} (cached)`);
      this.#check(url, 'integrity', `${integrity}, the stored copy checked again`);
      return stored;
    }
    const bytes = await this.catalogue.bytes(packageUrl, size, `package of ${id}`);
    this.#check(url, 'package', `${bytes.byteLength} bytes from ${packageUrl}`);
    await assertIntegrity(bytes, integrity, `package of ${id}`);
    this.#check(url, 'integrity', integrity);
    const source = new TextDecoder().decode(bytes);
    await this.#store.set(storeKey, source);
    return source;
  }

  #check(url: string, check: CheckEvent['check'], detail: string): void {
    this.#onCheck({ url, check, detail });
  }
}

/** What a load asked for; `loadUrl` asks for a kind only. */
interface Asked {
  readonly kind: PluginKind;
  readonly domain?: string;
  readonly name?: string;
  /** A valid semver range. */
  readonly range?: string;
}

/** The refusal of a descriptor that is not the one asked for, naming the field. */
function notAsked(url: string, field: string, asked: string, served: unknown): ProtoflyError {
  const shown = shortly(served);
  return new ProtoflyError(
    'PF_ERR_DESCRIPTOR',
    `${url} served a descriptor whose ${field} is ${shown}; asked for ${field === 'version' ? `a version within ${asked}` : asked}`,
    { field, asked, served: typeof served === 'string' ? served.slice(0, 100) : shown },
  );
}

/** A served value in a message: a string quoted and cut short; of anything else, only its type (it may nest deeper than JSON.stringify can go). */
/**
 * Where a descriptor's package is, resolved against the descriptor's own URL.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` when `sourcePackage.url` is not a URL.
 */
function packageUrlOf(d: Descriptor, descriptorUrl: string): string {
  if (!URL.canParse(d.sourcePackage.url, descriptorUrl)) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `${d.domain}/${d.name}@${d.version}: /sourcePackage/url ${shortly(d.sourcePackage.url)} is not a URL`,
      { pointer: '/sourcePackage/url' },
    );
  }
  return new URL(d.sourcePackage.url, descriptorUrl).href;
}

function shortly(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 100));
  if (typeof value !== 'object' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
