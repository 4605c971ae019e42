#!/usr/bin/env node
// Bundles the package's entries into dist/ with esbuild: the command line (dist/cli.js) and the
// entries package.json exports (dist/index.js, stub.js, stub-testing.js, server.js), split so
// that they share one copy of each module (chunks/). Dependencies stay external (installed by
// npm); decorators compile without emitted metadata, which is why every injected parameter
// names its token.
//
// Also bundles the sandbox worker thread into dist/sandbox-worker.js (a worker needs a
// JavaScript file; sandbox/node/locate.ts finds it from source and from any bundle). SES is
// bundled into it rather than left external: the worker then loads one file, not SES's module
// graph, which is most of a spare worker's start-up.
//
// Also bundles the script each sandbox isolate runs first (dist/sandbox-isolate.js, for
// sandbox/isolate/isolate-host.ts), SES included, as one classic script.
//
// Also bundles the runtime for browsers (dist/browser.js, package.json's `./browser`) and its
// sandbox Web Worker (dist/browser-worker.js): self-contained and minified, for a page to load
// from its own origin under a Content Security Policy without `unsafe-eval`; and the web demo's
// page script (dist/demo-page.js), which imports that runtime from its page's origin.
//
// With --types, also emits the entries' declarations into dist/types/ with tsc
// (tsconfig.types.json): tsc reads the decorators as the sources do; a bundled .d.ts would need
// another tool. Tests build without it, as they need only the JavaScript; --types-only emits
// the declarations alone (the package test, which must not rewrite dist/ under other tests).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
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

/** The modules package.json exports, by the file each is bundled into. */
export const ENTRIES = {
  cli: 'cli/main.ts',
  index: 'entry/node.ts',
  stub: 'entry/stub.ts',
  'stub-testing': 'entry/stub-testing.ts',
  server: 'entry/server.ts',
};

async function types() {
  await rm('dist/types', { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.types.json']);
  // A hand-written declaration beside generated JavaScript: tsc emits none for it.
  await mkdir('dist/types/core/generated', { recursive: true });
  await copyFile('core/generated/validators.d.ts', 'dist/types/core/generated/validators.d.ts');
}

if (process.argv.includes('--types-only')) {
  await types();
} else {
  await rm('dist/chunks', { recursive: true, force: true });
  await Promise.all([
    build({
      ...common,
      entryPoints: ENTRIES,
      packages: 'external',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
    }),
    build({ ...common, entryPoints: { 'sandbox-worker': 'sandbox/node/worker-entry.ts' } }),
    // An isolate has no module loader: one classic script, SES included.
    build({
      ...common,
      format: 'iife',
      platform: 'neutral',
      target: 'es2022',
      entryPoints: { 'sandbox-isolate': 'sandbox/isolate/isolate-entry.ts' },
    }),
    build({
      ...common,
      platform: 'browser',
      target: 'es2022',
      minify: true,
      entryPoints: {
        browser: 'entry/browser.ts',
        'browser-worker': 'sandbox/browser/worker-entry.ts',
        // The web demo's page script (`protofly demo --web`): it loads dist/browser.js at run time.
        'demo-page': 'cli/web/page.ts',
      },
    }),
    process.argv.includes('--types') ? types() : undefined,
  ]);
}
