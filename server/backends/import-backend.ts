import { existsSync } from 'node:fs';
import { mkdir, readFile, readlink, symlink, unlink } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ProtoflyError } from '../../core/errors.js';
import type { BackendDescriptor } from '../../core/generated/types.js';
import type { VerifiedPackage } from '../../core/plugin.js';
import { writeAtomic } from '../../node/files.js';
import { integrityHex } from '../../runtime/integrity.js';
import type { Backend } from '../services/service.js';

/** Resolves packages the way protofly's own code does, wherever it is installed. */
const require = createRequire(import.meta.url);

/**
 * Turns a verified backend package into its `Backend` in this process. Backends run
 * in-process, so only packages the loader verified against the domain's own key come here.
 *
 * The package's exact bytes are written content-addressed as `<dir>/<sha384-hex>.mjs` and
 * imported from there. A backend keeps npm packages and Node built-ins as imports (publish
 * leaves them out of the bundle), so `<dir>/node_modules` links each package it imports to
 * where protofly itself resolves it: the backend gets the very copies protofly was installed
 * with, native builds included.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when a package it needs is not installed, or its
 *   default export is not a backend of the service its descriptor names.
 */
export function importBackend(pkg: VerifiedPackage<BackendDescriptor>, dir: string): Promise<Backend> {
  const d = pkg.descriptor;
  return importBundle(
    {
      id: `${d.domain}/${d.name}@${d.version}`,
      service: d.service,
      hex: integrityHex(d.sourcePackage.integrity),
      source: pkg.source,
    },
    dir,
  );
}

/** A backend bundle (as publish makes it) to import: `id` names it in errors, `hex` is its sha384. */
export interface BackendBundle {
  readonly id: string;
  readonly service: BackendDescriptor['service'];
  readonly hex: string;
  readonly source: string;
}

/** {@link importBackend}'s work, for a bundle whoever made it: written as `<dir>/<hex>.mjs`, linked, imported, checked. */
export async function importBundle(bundle: BackendBundle, dir: string): Promise<Backend> {
  const { id, service, source } = bundle;
  const file = join(dir, `${bundle.hex}.mjs`);
  // Written unless its verified bytes are there already: a read-only data directory still serves.
  if ((await readFile(file, 'utf8').catch(() => undefined)) !== source) await writeAtomic(file, source);
  for (const name of await packagesImported(source)) await link(join(dir, 'node_modules', name), name, id);
  const mod = (await import(pathToFileURL(file).href)) as { default?: Partial<Backend> };
  const backend = mod.default;
  if (backend?.service !== service || typeof backend.create !== 'function') {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${id}: its default export is not a backend of '${service}' ({ service, create })`,
      { backend: id },
    );
  }
  return backend as Backend;
}

/** The npm packages a bundle imports (names, not subpaths), as esbuild reads them. */
async function packagesImported(source: string): Promise<string[]> {
  const result = await build({
    stdin: { contents: source, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Everything the bundle still imports is external by construction; `packages` would not
    // apply to stdin.
    external: ['*'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const names = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) {
      if (!imp.external || imp.path.startsWith('node:') || builtinModules.includes(imp.path)) continue;
      const parts = imp.path.split('/');
      names.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    }
  }
  return [...names];
}

/** Links `at` to the directory of package `name` as protofly resolves it. */
async function link(at: string, name: string, id: string): Promise<void> {
  const target = require.resolve
    .paths(name)
    ?.map((p) => join(p, name))
    .find((p) => existsSync(join(p, 'package.json')));
  if (!target) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `${id} imports '${name}', which is not installed with protofly`,
      {
        package: name,
      },
    );
  }
  const current = await readlink(at).catch(() => undefined);
  if (current === target) return;
  // A link left by a protofly installed elsewhere before.
  if (current !== undefined) await unlink(at);
  await mkdir(dirname(at), { recursive: true });
  await symlink(target, at, 'dir').catch(async (err: NodeJS.ErrnoException) => {
    // Another node process of the domain made the same link meanwhile.
    if (err.code === 'EEXIST' && (await readlink(at).catch(() => undefined)) === target) return;
    throw new ProtoflyError('PF_ERR_CONFIG', `cannot link ${at} to ${target}: ${err.message}`, { file: at });
  });
}
