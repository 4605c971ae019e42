#!/usr/bin/env node
// `npm run bench [-- --quick] [-- name...]`: bundles each bench/*.bench.ts with esbuild, runs it,
// prints a table and writes bench/results.json. Numbers are reported, never asserted.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

// The sandbox worker and the CLI are built first: benches start workers from dist/.
await import('../scripts/build.mjs');
const outdir = join(here, '..', 'dist', 'bench');
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: benches.map((f) => join(here, f)),
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});

const fmt = (n) =>
  n === undefined ? '' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
const results = [];
for (const [i, file] of benches.entries()) {
  process.stderr.write(`[${i + 1}/${benches.length}] ${file}${quick ? ' (quick)' : ''}\n`);
  const mod = await import(pathToFileURL(join(outdir, file.replace(/\.ts$/, '.mjs'))).href);
  for (const r of await mod.default({ quick, root: join(here, '..') })) {
    results.push(r);
    const vs = r.ratio ? `, ${r.ratio.toFixed(2)}× baseline ${fmt(r.baseline)}` : '';
    process.stderr.write(`  ${r.name}: ${fmt(r.median)} ${r.unit} (p99 ${fmt(r.p99)})${vs}\n`);
  }
}

const report = {
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
  node: process.version,
  date: new Date().toISOString(),
  quick,
  results,
};
writeFileSync(join(here, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
const rows = results.map(
  (r) =>
    `| ${r.name} | ${fmt(r.median)} | ${fmt(r.p99)} | ${r.unit} | ${fmt(r.baseline)} | ${r.ratio ? r.ratio.toFixed(2) : ''} |`,
);
const table = [
  `Measured ${report.date.slice(0, 10)} on ${report.machine}, Node ${report.node}${quick ? ' (quick run)' : ''}; ratio = ours / baseline, same run.`,
  '',
  '| benchmark | median | p99 | unit | baseline | ratio |',
  '|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
// A full run of every benchmark is what bench/README.md shows.
if (!quick && only.length === 0) {
  const readme = join(here, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  if (text.includes(start) && text.includes(end)) {
    writeFileSync(
      readme,
      `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`,
    );
  }
}
