import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';

/**
 * Faulty disks for the fault suite: a read-only directory (a read-only bind mount as root, else
 * a directory without write permission, which a process not root cannot write either) and a
 * full one (a tiny tmpfs, which needs root and a kernel that lets us mount; else none, and the
 * case injects the fault at the Store boundary instead).
 */

function run(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;

/** Makes `dir` read-only, with what it holds now; returns what undoes it. */
export async function readOnly(dir: string): Promise<() => void> {
  await mkdir(dir, { recursive: true });
  if (isRoot && run('mount', ['--bind', dir, dir])) {
    if (run('mount', ['-o', 'remount,bind,ro', dir])) return () => void run('umount', [dir]);
    run('umount', [dir]);
  }
  if (isRoot) throw new Error(`cannot make ${dir} read-only: root ignores permissions and mount failed`);
  run('chmod', ['-R', 'a-w', dir]);
  return () => void run('chmod', ['-R', 'u+w', dir]);
}

/** Mounts a tmpfs of `kib` KiB at `dir` (made if missing); undefined when this machine cannot. */
export async function full(dir: string, kib: number): Promise<(() => void) | undefined> {
  await mkdir(dir, { recursive: true });
  if (!isRoot || !run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir])) return undefined;
  return () => void run('umount', [dir]);
}
