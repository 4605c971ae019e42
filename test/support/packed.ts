import { execFile } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { copyFile, mkdir, open, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The package as npm would publish it, for tests that use it from outside the repository:
 * packed with `npm pack`, installed into a folder with `npm install`, from npm's cache when
 * everything is there.
 */

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);
/** Held while the declarations are emitted and the package packed: two test files do it. */
const LOCK = join(ROOT, 'dist', '.pack.lock');

/**
 * Packs the package into `dir`; resolves to the tarball's path. The JavaScript in dist/ is what
 * vitest's global setup built (`prepare`, which builds it again, is not run: other tests use
 * dist/ meanwhile); the declarations are emitted here, one test file at a time.
 */
export async function packProtofly(dir: string): Promise<string> {
  return locked(async () => {
    await run(process.execPath, ['scripts/build.mjs', '--types-only'], { cwd: ROOT });
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: ROOT,
    });
    return join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  });
}

/**
 * `npm install` in `app` of `specs` (the tarball among them) and whatever its package.json
 * names, without install scripts, from npm's cache when everything is there, else from the
 * registry. better-sqlite3 (the CDR backend's) compiles from source on install where no
 * prebuilt binary is reachable, minutes on a small machine: the app gets the binary this
 * checkout's `npm ci` built, for the same version and the same Node.
 */
export async function installPacked(app: string, specs: readonly string[]): Promise<void> {
  const install = (network: string) =>
    run('npm', ['install', ...specs, network, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app });
  await install('--offline').catch(() => install('--prefer-offline'));
  const requireHere = createRequire(join(ROOT, 'package.json'));
  const requireThere = createRequire(join(app, 'node_modules/protofly/package.json'));
  const ours = requireHere('better-sqlite3/package.json').version;
  const theirs = requireThere('better-sqlite3/package.json').version;
  if (theirs !== ours) throw new Error(`better-sqlite3 installed is ${theirs}; this checkout built ${ours}`);
  const release = 'build/Release';
  const built = join(requireHere.resolve('better-sqlite3/package.json'), '..', release);
  const target = join(requireThere.resolve('better-sqlite3/package.json'), '..', release);
  await mkdir(target, { recursive: true });
  await copyFile(join(built, 'better_sqlite3.node'), join(target, 'better_sqlite3.node'));
}

/** Runs `fn` holding {@link LOCK}: taken by creating it, waited for by watching it go. */
async function locked<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(join(LOCK, '..'), { recursive: true });
  for (;;) {
    try {
      const file = await open(LOCK, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await stale()) {
      await rm(LOCK, { force: true });
      continue;
    }
    await new Promise<void>((resolve) => {
      const watcher = watch(join(LOCK, '..'), () => {
        if (!existsSync(LOCK)) done();
      });
      const done = () => {
        watcher.close();
        resolve();
      };
      if (!existsSync(LOCK)) done();
    });
  }
  try {
    return await fn();
  } finally {
    await rm(LOCK, { force: true });
  }
}

/** The lock's holder is gone (a run killed while packing). */
async function stale(): Promise<boolean> {
  const pid = Number(await readFile(LOCK, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
