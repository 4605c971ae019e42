#!/usr/bin/env node
// Bundles the command line into dist/ with esbuild. Dependencies stay external (installed
// by npm); decorators compile without emitted metadata, which is why every injected
// parameter names its token.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
