import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isProtoflyError, ProtoflyError } from '../core/errors.js';

/** System codes that say the disk, not the caller, is at fault: full, read-only, not ours. */
const STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO']);

/**
 * `err` as `PF_ERR_STORAGE` naming `what` and the path when it is a disk fault (full,
 * read-only, not writable), else `err` itself.
 */
export function storageError(err: unknown, what: string): unknown {
  return STORAGE_CODES.has((err as NodeJS.ErrnoException)?.code ?? '') ? ioError(err, what) : err;
}

/**
 * `err`, a failed file operation, as `PF_ERR_STORAGE` naming `what`, its system code and its
 * path (the error's, else `path`: some, EISDIR from a read, carry none), with `err` as cause.
 */
export function ioError(err: unknown, what: string, path?: string): ProtoflyError {
  if (isProtoflyError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? 'EIO';
  const at = e?.path ?? path;
  return new ProtoflyError(
    'PF_ERR_STORAGE',
    `cannot ${what}: ${code} (${STORAGE_REASONS[code] ?? e?.message ?? String(err)})${at ? ` at ${at}` : ''}`,
    { code, ...(at ? { path: at } : {}) },
    { cause: err },
  );
}

const STORAGE_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk is full',
  EROFS: 'the file system is read-only',
  EIO: 'the disk failed',
  EACCES: 'not permitted to this process',
  EPERM: 'not permitted to this process',
  EISDIR: 'a directory where a file belongs',
  ENOTDIR: 'a file where a directory belongs',
};

/**
 * What `io`, a read (or `doing`) of `path`, gives, or undefined when there is nothing there:
 * ENOENT is the only failure that means absent.
 *
 * @throws ProtoflyError `PF_ERR_STORAGE` naming the path for any other (unreadable, a directory
 *   where a file belongs, a failing disk), so that nothing unreadable is taken for absent and
 *   overwritten.
 */
export async function ifPresent<T>(io: Promise<T>, path: string, doing = 'read'): Promise<T | undefined> {
  try {
    return await io;
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return undefined;
    throw ioError(err, `${doing} ${path}`, path);
  }
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

/**
 * Whether a file exists.
 *
 * @throws ProtoflyError `PF_ERR_STORAGE` when that cannot be told (see {@link ifPresent}).
 */
export async function exists(file: string): Promise<boolean> {
  return (
    (await ifPresent(
      access(file).then(() => true),
      `reach ${file}`,
    )) ?? false
  );
}
