import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { isProtoflyError, ProtoflyError } from './errors.js';

describe('ProtoflyError', () => {
  it('is recognised from another copy of its module, as an in-process backend bundles one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pf-errors-'));
    try {
      const out = await build({
        entryPoints: [join(import.meta.dirname, 'errors.ts')],
        bundle: true,
        format: 'esm',
        platform: 'node',
        write: false,
        logLevel: 'silent',
      });
      const file = join(dir, 'errors.mjs');
      await writeFile(file, out.outputFiles[0]!.text);
      const copy = (await import(pathToFileURL(file).href)) as typeof import('./errors.js');
      const foreign = new copy.ProtoflyError('PF_ERR_EXISTS', "user 'frank' exists");
      expect(foreign).not.toBeInstanceOf(ProtoflyError);
      expect(isProtoflyError(foreign)).toBe(true);
      expect(isProtoflyError(foreign, 'PF_ERR_EXISTS')).toBe(true);
      expect(isProtoflyError(foreign, 'PF_ERR_CONFIG')).toBe(false);
      expect(isProtoflyError(new Error('PF_ERR_EXISTS: not ours'))).toBe(false);
      expect(isProtoflyError(null)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
