import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Result } from './harness.js';

/**
 * What a page downloads to run protofly, stubs not included (each is fetched and verified per
 * carrier domain): `protofly/browser` (the runtime and the host that runs stubs in Web
 * Workers) and the sandbox worker's script (SES lockdown, the compartment, the instance side),
 * as built by scripts/build.mjs (minified), gzip at zlib's default level as a server sends it.
 * Issue #18's target: runtime and host at most 60 KB. No baseline: a size, not a speed.
 */
export async function bundleSizes(root: string): Promise<Result[]> {
  const size = async (file: string) => {
    const bytes = await readFile(join(root, 'dist', file));
    return [bytes.byteLength / 1024, gzipSync(bytes).byteLength / 1024] as const;
  };
  const results: Result[] = [];
  let total = 0;
  for (const [file, what] of [
    ['browser.js', 'page script (runtime + worker host)'],
    ['browser-worker.js', 'sandbox worker script (SES + compartment)'],
  ] as const) {
    const [raw, gz] = await size(file);
    total += gz;
    results.push(
      { name: `browser bundle: ${what}, gzip`, unit: 'KB', median: gz, p99: gz },
      { name: `browser bundle: ${what}, minified`, unit: 'KB', median: raw, p99: raw },
    );
  }
  results.push({ name: 'browser bundle: both, gzip', unit: 'KB', median: total, p99: total });
  return results;
}
