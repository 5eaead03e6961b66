// Writing files so that a crash or a concurrent writer never leaves a half-written one.
//
// Both functions write the data to a new temporary file in the target's directory, created with
// O_CREAT|O_EXCL and the final mode from the start (so a secret is never readable by others, not
// even for a moment), and fsync it. Then:
//   writeFileAtomic      renames it over the target: readers see the old file or the new one;
//   createFileExclusive  hard-links it to the target, which fails with EEXIST if the target
//                        exists, so of two racing creators exactly one wins and nothing is
//                        ever overwritten; the temporary name is then removed.
// Finally the directory is fsynced so the new name survives a crash. Missing parent directories
// are created (mode 0700 unless told otherwise). The mode is subject to the process umask.
//
// Root writing into a directory another user owns (root running `rovy init` or the daemon by hand
// in /var/lib/rovy, which belongs to the service's user) gives the file to the directory's owner,
// so the service can still read its key and state afterwards.
import {
  closeSync,
  fchownSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode for parent directories that have to be created (default 0o700). */
  dirMode?: number;
}

/** Replaces (or creates) `path` with `data` atomically, with file mode `mode`. */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
  options: AtomicWriteOptions = {},
): void {
  const temp = writeTemp(path, data, mode, options);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkQuietly(temp);
    throw err;
  }
  fsyncDirectory(dirname(path));
}

/**
 * Creates `path` holding `data` with file mode `mode`, complete or not at all. Throws the
 * filesystem's EEXIST error (err.code === 'EEXIST') if `path` already exists, even if another
 * process created it a moment ago.
 */
export function createFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode: number,
  options: AtomicWriteOptions = {},
): void {
  const temp = writeTemp(path, data, mode, options);
  try {
    linkSync(temp, path);
  } finally {
    unlinkQuietly(temp);
  }
  fsyncDirectory(dirname(path));
}

/** Writes a fresh temporary file beside `path`, fsynced, and returns its name. */
function writeTemp(path: string, data: string | Uint8Array, mode: number, options: AtomicWriteOptions): string {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: options.dirMode ?? 0o700 });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(temp, 'wx', mode); // O_WRONLY|O_CREAT|O_EXCL
  try {
    if (process.geteuid?.() === 0) {
      const owner = statSync(dir);
      if (owner.uid !== 0) fchownSync(fd, owner.uid, owner.gid);
    }
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw err;
  }
  closeSync(fd);
  return temp;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or the directory became unwritable: nothing more to do.
  }
}
