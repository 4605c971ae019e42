import { existsSync } from 'node:fs';
import { ProtoflyError } from '../../core/errors.js';

const SCRIPT = 'sandbox-worker.js';

/**
 * Finds the worker script `scripts/build.mjs` writes to `dist/sandbox-worker.js`.
 *
 * A worker thread needs a JavaScript file, and this module runs from three places: its
 * TypeScript source under vitest (`sandbox/node/`), bundled into `dist/cli.js`, and bundled
 * into a benchmark under `dist/bench/`. Rather than a relative path that fits only one of
 * them, it looks for `sandbox-worker.js` and `dist/sandbox-worker.js` in this module's
 * directory and each parent, up to the package root (the first directory with a
 * package.json), once per process.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when there is none: run `npm run build`.
 */
export function sandboxWorkerUrl(from: string = import.meta.url): URL {
  let dir = new URL('.', from);
  for (;;) {
    for (const candidate of [new URL(SCRIPT, dir), new URL(`dist/${SCRIPT}`, dir)]) {
      if (existsSync(candidate)) return candidate;
    }
    const parent = new URL('..', dir);
    if (existsSync(new URL('package.json', dir)) || parent.href === dir.href) break;
    dir = parent;
  }
  throw new ProtoflyError('PF_ERR_CONFIG', `no ${SCRIPT} next to or above ${from}: run npm run build`, {
    from,
  });
}
