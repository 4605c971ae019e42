import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ProtoflyError } from '../core/errors.js';

/** System codes that say the disk, not the caller, is at fault: full, read-only, not ours. */
const STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO']);

/**
 * `err` as `PF_ERR_STORAGE` naming `what` and the path when it is a disk fault (full,
 * read-only, not writable), else `err` itself.
 */
export function storageError(err: unknown, what: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!STORAGE_CODES.has(e?.code ?? '')) return err;
  return new ProtoflyError(
    'PF_ERR_STORAGE',
    `cannot ${what}: ${e.code} (${storageReason(e.code!)})${e.path ? ` at ${e.path}` : ''}`,
    { code: e.code, ...(e.path ? { path: e.path } : {}) },
    { cause: err },
  );
}

function storageReason(code: string): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'EROFS') return 'the file system is read-only';
  if (code === 'EIO') return 'the disk failed';
  return 'not writable by this process';
}

/**
 * Writes a file so readers see the old content or the new, never half of it.
 *
 * @throws ProtoflyError `PF_ERR_STORAGE` when the disk is full, read-only or not writable
 *   (no temporary file is left behind).
 */
export async function writeAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
  } catch (err) {
    // A recursive mkdir on a read-only file system can say ENOENT for the directory it could not make.
    const e = err as NodeJS.ErrnoException;
    throw storageError(
      e.code === 'ENOENT' ? Object.assign(e, { code: 'EROFS' }) : e,
      `create ${dirname(file)}`,
    );
  }
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode });
    await rename(tmp, file);
  } catch (err) {
    // A full disk can leave a partial temporary file: it must not fill what little is left.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw storageError(err, `write ${file}`);
  }
}

/**
 * Checks that `dir` can be written (made if missing), by writing and removing a small file.
 *
 * @throws ProtoflyError `PF_ERR_STORAGE` naming `dir` when it is read-only, full or not ours.
 */
export async function assertWritable(dir: string): Promise<void> {
  const probe = join(dir, `.write-check-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, 'protofly');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw storageError(
      e.code === 'ENOENT' ? Object.assign(e, { code: 'EROFS' }) : e,
      `write the data directory ${dir}`,
    );
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/** Whether a file exists (and is reachable). */
export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
