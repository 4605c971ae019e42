import { bundlePlugin, type Manifest, readManifest } from '../server/catalogue/publish.js';

/**
 * `protofly/stub/testing`: runs a stub in the test process against a real server, without a
 * sandbox, as the built-in stubs' own tests do; and the conformance suite every stub runs.
 */
export * from '../sandbox/node/conformance/stub-conformance.js';
export * from '../sandbox/node/direct-context.js';
export type { Manifest } from '../server/catalogue/publish.js';

/**
 * A stub folder's manifest (its protofly.json) and its code as `protofly publish` bundles it:
 * what `stubConformance` takes as `manifest` and `bundle`.
 */
export async function stubFolder(
  pluginDir: string,
): Promise<{ manifest: Manifest; bundle: () => Promise<Uint8Array> }> {
  const manifest = await readManifest(pluginDir);
  return {
    manifest,
    bundle: async () => (await bundlePlugin(pluginDir, manifest.entry, 'stub', false)).code,
  };
}
