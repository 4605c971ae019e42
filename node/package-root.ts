import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The protofly package's root: the nearest directory with a package.json above `from`. Code
 * runs from its TypeScript source (under vitest), bundled into `dist/cli.js`, and bundled into
 * `dist/bench/*`, so a fixed relative path would fit only one of them.
 */
export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return dirname(fileURLToPath(from));
    dir = parent;
  }
  return dir;
}
