#!/usr/bin/env node
// Checks the package as npm would publish it (run after `npm run build`): packs it once, then
// publint (package.json fields against the files) and Are the Types Wrong (each export's types
// resolve, for ESM consumers: the package has no CommonJS build) read that tarball.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'protofly-pack-'));
const run = (cmd, args) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
try {
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir]));
  const tarball = join(dir, packed.filename);
  run('node_modules/.bin/publint', ['run', tarball, '--strict']);
  run('node_modules/.bin/attw', [tarball, '--profile', 'esm-only', '--format', 'ascii']);
  console.log(`package ok: ${packed.filename}, ${packed.entryCount} files, ${packed.size} bytes`);
} catch (err) {
  process.stderr.write(`${err.stdout ?? ''}${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
