import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { build } from 'esbuild';
import type { PluginKind } from '../../core/catalogue.js';
import { ProtoflyError } from '../../core/errors.js';
import type { Jwks } from '../../core/generated/types.js';
import { validateBackendDescriptor, validateStubDescriptor } from '../../core/generated/validators.js';
import { integrityHex, integrityOf } from '../../core/integrity.js';
import type { Descriptor } from '../../core/plugin.js';
import { signingInput } from '../../core/signature.js';
import { assertValid } from '../../core/validate.js';
import { exists, writeAtomic } from '../../node/files.js';
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
  const { pluginDir, key, out } = options;
  const manifest = await readManifest(pluginDir);
  const { entry, ...fields } = withDeployment(
    options.version === undefined ? manifest : { ...manifest, version: options.version },
    options.deployment,
  );
  const bundle = await bundlePlugin(pluginDir, entry, fields.kind, options.minify ?? false);
  const integrity = await integrityOf(bundle.code);
  const hex = integrityHex(integrity);

  const unsigned = {
    ...fields,
    domain: key.domain,
    sourcePackage: {
      url: layout.packageUrl(hex),
      integrity,
      size: bundle.code.byteLength,
      format: 'esm' as const,
    },
  } as Omit<Descriptor, 'signature'>;
  const descriptor = { ...unsigned, signature: signWith(key, signingInput(unsigned)) } as Descriptor;
  const kind: PluginKind = descriptor.kind;
  assertValid<Descriptor>(
    kind === 'stub' ? validateStubDescriptor : validateBackendDescriptor,
    descriptor,
    `${kind} descriptor (from ${join(pluginDir, 'protofly.json')})`,
  );

  const descriptorFile = layout.descriptor(out, kind, descriptor.name, descriptor.version);
  const text = `${JSON.stringify(descriptor, null, 2)}\n`;
  const existing = await readFile(descriptorFile, 'utf8').catch(() => undefined);
  const packageFile = layout.package(out, hex);
  if (existing === text) return { descriptor, descriptorFile, packageFile, changed: false };
  const samePackage =
    existing !== undefined && (JSON.parse(existing) as Descriptor).sourcePackage.integrity === integrity;
  if (existing !== undefined && !(options.redeploy && samePackage)) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${descriptor.domain}/${descriptor.name}@${descriptor.version} is already published with other content; bump the version`,
      { file: descriptorFile },
    );
  }

  // Content-addressed: an existing file of that name has these very bytes, so it is left alone.
  if (!(await exists(packageFile))) {
    await writeAtomic(packageFile, bundle.code);
    await writeAtomic(`${packageFile}.map`, bundle.map);
  }
  await addKey(out, key);
  if (kind === 'stub') await setDefault(out, descriptor.name, options.makeDefault ?? false);
  await writeAtomic(descriptorFile, text);
  return { descriptor, descriptorFile, packageFile, changed: true };
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

async function readManifest(pluginDir: string): Promise<Manifest> {
  const file = join(pluginDir, 'protofly.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot read manifest ${file}: ${(err as Error).message}`, {
      file,
    });
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
async function bundlePlugin(
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
    ...(kind === 'backend' ? { platform: 'node', packages: 'external' } : { platform: 'neutral' }),
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

/** Adds the domain's public key to the catalogue's JWKS. */
async function addKey(out: string, key: DomainKey): Promise<void> {
  const file = layout.keys(out);
  const jwks = JSON.parse((await readFile(file, 'utf8').catch(() => undefined)) ?? '{"keys":[]}') as Jwks;
  if (jwks.keys.some((k) => k.kid === key.publicJwk.kid)) return;
  jwks.keys.push(key.publicJwk);
  await writeAtomic(file, `${JSON.stringify(jwks, null, 2)}\n`);
}

async function setDefault(out: string, name: string, force: boolean): Promise<void> {
  const file = layout.aliases(out);
  const aliases = JSON.parse((await readFile(file, 'utf8').catch(() => undefined)) ?? '{}') as Record<
    string,
    string
  >;
  if (aliases['stub/default'] && !force) return;
  aliases['stub/default'] = name;
  await writeAtomic(file, `${JSON.stringify(aliases, null, 2)}\n`);
}
