import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProtoflyError } from '../../core/errors.js';
import { packageRoot } from '../../node/package-root.js';

/**
 * The worker script `scripts/build.mjs` writes to `dist/sandbox-worker.js`: a worker thread
 * needs a JavaScript file, whether this module runs from source or bundled.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when there is none: run `npm run build`.
 */
export function sandboxWorkerUrl(from: string = import.meta.url): URL {
  const file = join(packageRoot(from), 'dist', 'sandbox-worker.js');
  if (existsSync(file)) return pathToFileURL(file);
  throw new ProtoflyError('PF_ERR_CONFIG', `no ${file}: run npm run build`, { from });
}
