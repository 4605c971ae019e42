import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProtoflyError } from '../../core/errors.js';
import { packageRoot } from '../../node/package-root.js';

/**
 * A sandbox script `scripts/build.mjs` writes to `dist/` (`sandbox-worker.js`, a worker
 * thread's; `sandbox-isolate.js`, an isolate's), whether this module runs from source or bundled.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when there is none: run `npm run build`.
 */
export function sandboxScriptUrl(name: string, from: string = import.meta.url): URL {
  const file = join(packageRoot(from), 'dist', name);
  if (existsSync(file)) return pathToFileURL(file);
  throw new ProtoflyError('PF_ERR_CONFIG', `no ${file}: run npm run build`, { from });
}

/** The worker script, `dist/sandbox-worker.js` (see {@link sandboxScriptUrl}). */
export function sandboxWorkerUrl(from: string = import.meta.url): URL {
  return sandboxScriptUrl('sandbox-worker.js', from);
}
