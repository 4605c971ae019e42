import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { StubDescriptor } from '../../core/generated/types.js';
import { validateStubDescriptor } from '../../core/generated/validators.js';
import type { VerifiedPackage } from '../../core/plugin.js';
import { assertValid } from '../../core/validate.js';

/** A plugin folder's `protofly.json`: the descriptor without what publishing adds, plus its entry. */
type Manifest = Omit<StubDescriptor, 'domain' | 'sourcePackage' | 'signature'> & { entry: string };

const cache = new Map<string, Promise<VerifiedPackage<StubDescriptor>>>();

/**
 * The one way tests turn a stub folder into what a sandbox host takes. For now it bundles the
 * entry as publishing does (esbuild, one ES module, es2022, nothing imported at run time) and
 * builds a schema-valid descriptor under the domain `<name>.test`, with a placeholder
 * signature; it will publish to a real catalogue and load through the verifying loader once
 * those land, and no test needs to change.
 */
export function verifiedPackageOf(pluginDir: string): Promise<VerifiedPackage<StubDescriptor>> {
  let pkg = cache.get(pluginDir);
  if (!pkg) {
    pkg = load(pluginDir);
    cache.set(pluginDir, pkg);
  }
  return pkg;
}

async function load(pluginDir: string): Promise<VerifiedPackage<StubDescriptor>> {
  const manifestFile = join(pluginDir, 'protofly.json');
  const { entry, ...fields } = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
  const out = await build({
    entryPoints: [join(pluginDir, entry)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const source = out.outputFiles[0]!.text;
  const bytes = Buffer.from(source, 'utf8');
  const domain = `${fields.name}.test`;
  const descriptor = {
    ...fields,
    domain,
    sourcePackage: {
      url: 'package.mjs',
      integrity: `sha384-${createHash('sha384').update(bytes).digest('base64')}`,
      size: bytes.byteLength,
      format: 'esm',
    },
    signature: { keyId: 'test', alg: 'Ed25519', value: 'A'.repeat(86) },
  };
  assertValid(validateStubDescriptor, descriptor, `stub descriptor (from ${manifestFile})`);
  return { descriptor, source, url: pathToFileURL(manifestFile).href, signedBy: `${domain}#test` };
}
