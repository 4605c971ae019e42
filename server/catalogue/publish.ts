import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import semver from 'semver';
import { isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Jwks } from '../../core/generated/types.js';
import {
  type ValidationError,
  validateBackendDescriptor,
  validateStubDescriptor,
} from '../../core/generated/validators.js';
import type { Descriptor } from '../../core/plugin.js';
import { assertValid, schemaError } from '../../core/validate.js';
import { exists, ifPresent, writeAtomic } from '../../node/files.js';
import { packageRoot } from '../../node/package-root.js';
import type { PluginKind } from '../../runtime/catalogue.js';
import { pluginConfig } from '../../runtime/config.js';
import { integrityHex, integrityOf } from '../../runtime/integrity.js';
import { signingInput } from '../../runtime/signature.js';
import { type DomainKey, signWith } from './keys.js';
import { layout } from './layout.js';

/** A plugin folder's `protofly.json`: its descriptor without what publishing computes, plus the entry file. */
export type Manifest = Omit<Descriptor, 'domain' | 'sourcePackage' | 'signature'> & { entry: string };

export interface PublishOptions {
  /** The plugin folder, holding `protofly.json`. */
  readonly pluginDir: string;
  readonly key: DomainKey;
  /** The catalogue directory. */
  readonly out: string;
  /** Make this stub the domain's `default`. The first stub published becomes it anyway. */
  readonly makeDefault?: boolean;
  readonly minify?: boolean;
  /**
   * Publish as this version instead of the manifest's: a provider's release of a new version
   * of the same plugin folder (the hot-swap demo and tests publish their v2 so).
   */
  readonly version?: string;
  /**
   * What only the deployment knows, over the manifest: where this domain's server is. A
   * built-in stub published by `protofly serve` gets the node's URL as its `url` default and
   * as its only endpoint.
   */
  readonly deployment?: {
    readonly endpoints?: readonly string[];
    readonly defaults?: Readonly<Record<string, unknown>>;
  };
  /**
   * The deployment may have moved (a restart on other ports): the same package under the same
   * version may be re-signed with the new deployment. A different package is still refused.
   */
  readonly redeploy?: boolean;
  /**
   * Refuse a stub whose configuration defaults (the deployment's included) do not satisfy its
   * own configuration schema: a release must work for a runtime that configures nothing.
   */
  readonly complete?: boolean;
}

export interface PublishResult {
  readonly descriptor: Descriptor;
  readonly descriptorFile: string;
  readonly packageFile: string;
  /** False when this exact version was already published: nothing was written. */
  readonly changed: boolean;
}

/**
 * `protofly publish`: bundles a plugin into one self-contained ES module (esbuild, es2022,
 * no run-time imports), writes it content-addressed, and writes its descriptor signed with
 * the domain key over RFC 8785 canonical JSON. Re-publishing an unchanged plugin is a no-op;
 * a changed plugin under a published version is refused; packages are never overwritten.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const { pluginDir, key } = options;
  const manifest = await readManifest(pluginDir);
  const { entry, ...fields } = withDeployment(
    options.version === undefined ? manifest : { ...manifest, version: options.version },
    options.deployment,
  );
  const bundle = await bundlePlugin(pluginDir, entry, fields.kind, options.minify ?? false);
  const integrity = await integrityOf(bundle.code);
  const hex = integrityHex(integrity);
  return publishDescriptor(
    {
      ...fields,
      domain: key.domain,
      sourcePackage: {
        url: layout.packageUrl(hex),
        integrity,
        size: bundle.code.byteLength,
        format: 'esm' as const,
      },
    } as Omit<Descriptor, 'signature'>,
    { ...options, from: join(pluginDir, 'protofly.json'), bundle },
  );
}

/**
 * Signs a descriptor with the domain key and writes it into the catalogue, with its package
 * when `bundle` is given (else the package must be there: a rollback names one published
 * before). The same descriptor again is a no-op but for `makeDefault`; other content under a
 * published version is refused unless only the deployment moved (`redeploy`).
 */
export async function publishDescriptor(
  unsigned: Omit<Descriptor, 'signature'>,
  options: Pick<PublishOptions, 'key' | 'out' | 'makeDefault' | 'redeploy' | 'complete'> & {
    /** Where the descriptor's fields came from, for error messages. */
    readonly from: string;
    readonly bundle?: { readonly code: Uint8Array; readonly map: Uint8Array };
  },
): Promise<PublishResult> {
  const { key, out } = options;
  await assertOwnCatalogue(out, key);
  const descriptor = { ...unsigned, signature: signWith(key, signingInput(unsigned)) } as Descriptor;
  const kind: PluginKind = descriptor.kind;
  assertValid<Descriptor>(
    kind === 'stub' ? validateStubDescriptor : validateBackendDescriptor,
    descriptor,
    `${kind} descriptor (from ${options.from})`,
  );
  const id = `${descriptor.domain}/${descriptor.name}@${descriptor.version}`;
  if (options.complete) {
    try {
      pluginConfig(descriptor);
    } catch (err) {
      if (!isProtoflyError(err, 'PF_ERR_SCHEMA')) throw err;
      throw schemaError(
        `${id} refused: no runtime could start it, its configuration with what the domain fills in does not satisfy its schema`,
        (err.detail.errors ?? []) as ValidationError[],
      );
    }
  }

  const hex = integrityHex(descriptor.sourcePackage.integrity);
  const descriptorFile = layout.descriptor(out, kind, descriptor.name, descriptor.version);
  const text = `${JSON.stringify(descriptor, null, 2)}\n`;
  const existing = await ifPresent(readFile(descriptorFile, 'utf8'), descriptorFile);
  const packageFile = layout.package(out, hex);
  if (existing === text) {
    if (kind === 'stub' && options.makeDefault) await setDefault(out, descriptor.name, true);
    return { descriptor, descriptorFile, packageFile, changed: false };
  }
  const samePackage =
    existing !== undefined &&
    (JSON.parse(existing) as Descriptor).sourcePackage.integrity === descriptor.sourcePackage.integrity;
  if (existing !== undefined && !(options.redeploy && samePackage)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${id} is already published with other content; bump the version`,
      { file: descriptorFile },
    );
  }

  // Content-addressed: an existing file of that name has these very bytes, so it is left alone.
  if (!(await exists(packageFile))) {
    if (!options.bundle) {
      throw new ProtoflyError(
        'PF_ERR_NOT_FOUND',
        `${id}: its package ${packageFile} is not in the catalogue`,
        {
          file: packageFile,
        },
      );
    }
    await writeAtomic(packageFile, options.bundle.code);
    await writeAtomic(`${packageFile}.map`, options.bundle.map);
  }
  await addKey(out, key);
  if (kind === 'stub') await setDefault(out, descriptor.name, options.makeDefault ?? false);
  await writeAtomic(descriptorFile, text);
  return { descriptor, descriptorFile, packageFile, changed: true };
}

/** The versions of a plugin published in a catalogue directory, newest first. */
export async function publishedVersions(out: string, kind: PluginKind, name: string): Promise<string[]> {
  const folder = layout.plugin(out, kind, name);
  const files = (await ifPresent(readdir(folder), folder, 'list')) ?? [];
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((v) => semver.valid(v))
    .sort(semver.rcompare);
}

/** A descriptor published in a catalogue directory, or undefined. */
export async function readPublished(
  out: string,
  kind: PluginKind,
  name: string,
  version: string,
): Promise<Descriptor | undefined> {
  const file = layout.descriptor(out, kind, name, version);
  const text = await ifPresent(readFile(file, 'utf8'), file);
  return text === undefined ? undefined : (JSON.parse(text) as Descriptor);
}

/**
 * A catalogue directory is one domain's, signed with one key: what its JWKS lists. Another
 * key (another domain's, or a stray key of this one) would make runtimes refuse what it signs,
 * or serve one domain's catalogue with another's descriptors.
 *
 * @throws ProtoflyError `PF_ERR_FOREIGN_KEY`.
 */
async function assertOwnCatalogue(out: string, key: DomainKey): Promise<void> {
  const file = layout.keys(out);
  const text = await ifPresent(readFile(file, 'utf8'), file);
  const kids = text === undefined ? [] : ((JSON.parse(text) as Jwks).keys ?? []).map((k) => k.kid);
  const owner = await catalogueDomain(out);
  if ((kids.length === 0 || kids.includes(key.publicJwk.kid)) && (owner ?? key.domain) === key.domain) return;
  throw new ProtoflyError(
    'PF_ERR_FOREIGN_KEY',
    `${out} is the catalogue of ${owner ?? 'another domain'}, signed with key ${kids.join(', ')}; this key is ${key.domain}'s (${key.publicJwk.kid})`,
    { dir: out, domain: owner, keys: kids, key: key.publicJwk.kid },
  );
}

/** The domain the descriptors of a catalogue directory name, if it has any. */
async function catalogueDomain(out: string): Promise<string | undefined> {
  for (const kind of ['stub', 'backend'] as const) {
    for (const name of (await ifPresent(readdir(join(out, kind)), join(out, kind), 'list')) ?? []) {
      const [version] = await publishedVersions(out, kind, name);
      if (version) return (await readPublished(out, kind, name, version))?.domain;
    }
  }
  return undefined;
}

function withDeployment(manifest: Manifest, deployment: PublishOptions['deployment']): Manifest {
  if (!deployment) return manifest;
  const m = manifest as Manifest & { constraints?: { endpoints?: readonly string[] } };
  return {
    ...m,
    configuration: { ...m.configuration, defaults: { ...m.configuration?.defaults, ...deployment.defaults } },
    ...(deployment.endpoints && m.constraints
      ? { constraints: { ...m.constraints, endpoints: [...deployment.endpoints] } }
      : {}),
  } as Manifest;
}

/** A plugin folder's manifest, with its entry checked to stay inside the folder. */
export async function readManifest(pluginDir: string): Promise<Manifest> {
  const file = join(pluginDir, 'protofly.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `cannot read manifest ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  const entry = (manifest as { entry?: unknown })?.entry;
  if (typeof entry !== 'string' || entry.length === 0 || isAbsolute(entry) || entry.includes('..')) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `manifest ${file}: /entry must be a file inside the plugin folder`,
      {
        pointer: '/entry',
      },
    );
  }
  return manifest as Manifest;
}

/**
 * One ES module and its source map; deterministic for the same sources. A stub's is
 * self-contained (it runs in a sandbox that hands it everything). A backend runs in-process
 * on Node: Node built-ins and npm packages (native ones like better-sqlite3 cannot be
 * bundled) stay imports, resolved where the backend is loaded.
 */
export async function bundlePlugin(
  pluginDir: string,
  entry: string,
  kind: PluginKind,
  minify: boolean,
): Promise<{ code: Uint8Array; map: Uint8Array }> {
  const result = await build({
    absWorkingDir: pluginDir,
    entryPoints: [entry],
    outfile: 'package.js',
    bundle: true,
    format: 'esm',
    ...(kind === 'backend'
      ? { platform: 'node', packages: 'external' }
      : { platform: 'neutral', plugins: [ownKit] }),
    target: 'es2022',
    minify,
    sourcemap: 'external',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  }).catch((err: { errors?: { text: string }[] }) => {
    const why = err.errors?.map((e) => e.text).join('; ') ?? String(err);
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot bundle ${join(pluginDir, entry)}: ${why}`, { entry });
  });
  const code = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
  if (!code || !map)
    throw new ProtoflyError('PF_ERR_CONFIG', `bundling ${entry} produced no output`, { entry });
  return { code: code.contents, map: map.contents };
}

/**
 * `protofly/stub` for a stub whose folder has no protofly installed (the scaffold's template in
 * this repository, a copy of it, a folder published by a protofly installed elsewhere): this
 * package's own kit, from its sources or its bundle, whichever runs. Where the folder resolves
 * it, the folder's own is taken.
 */
const ownKit: Plugin = {
  name: 'protofly-own-kit',
  setup(b) {
    b.onResolve({ filter: /^protofly\/stub$/ }, async ({ path, kind, resolveDir, pluginData }) => {
      if (pluginData === ownKit) return undefined;
      const theirs = await b.resolve(path, { kind, resolveDir, pluginData: ownKit });
      if (theirs.errors.length === 0) return theirs;
      const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
      return { path: join(packageRoot(import.meta.url), fromSource ? 'entry/stub.ts' : 'dist/stub.js') };
    });
  },
};

/** Adds the domain's public key to the catalogue's JWKS. */
async function addKey(out: string, key: DomainKey): Promise<void> {
  const file = layout.keys(out);
  const jwks = JSON.parse((await ifPresent(readFile(file, 'utf8'), file)) ?? '{"keys":[]}') as Jwks;
  if (jwks.keys.some((k) => k.kid === key.publicJwk.kid)) return;
  jwks.keys.push(key.publicJwk);
  await writeAtomic(file, `${JSON.stringify(jwks, null, 2)}\n`);
}

async function setDefault(out: string, name: string, force: boolean): Promise<void> {
  const file = layout.aliases(out);
  const aliases = JSON.parse((await ifPresent(readFile(file, 'utf8'), file)) ?? '{}') as Record<
    string,
    string
  >;
  if (aliases['stub/default'] && !force) return;
  aliases['stub/default'] = name;
  await writeAtomic(file, `${JSON.stringify(aliases, null, 2)}\n`);
}
