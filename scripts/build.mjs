#!/usr/bin/env node
// Bundles the command line into dist/ with esbuild. Dependencies stay external (installed
// by npm); decorators compile without emitted metadata, which is why every injected
// parameter names its token.
//
// Also bundles the sandbox worker thread into dist/sandbox-worker.js (a worker needs a
// JavaScript file; sandbox/node/locate.ts finds it from source and from any bundle). SES is
// bundled into it rather than left external: the worker then loads one file, not SES's module
// graph, which is most of a spare worker's start-up.
import { build } from 'esbuild';

const common = {
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: { cli: 'cli/main.ts' }, packages: 'external' }),
  build({ ...common, entryPoints: { 'sandbox-worker': 'sandbox/node/worker-entry.ts' } }),
]);
