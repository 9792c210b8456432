import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CompileError } from '../errors.js';

/**
 * Write next to the target and rename, so an interrupted or failed write never leaves a half-written file under
 * the user's name: the bytes are flushed to disk (fsync) before the rename and the folder after it, so a power
 * cut leaves the old file or the new one, never an empty one. On any failure the temporary file is removed; a
 * compile killed outright (SIGKILL, power) cannot clean up, so the next write to the same path removes the
 * temporary files of processes that no longer run.
 */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await removeStaleTemporaries(path);
  const tmp = temporaryName(path, process.pid);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncFolder(dirname(path));
  } catch (e) {
    await rm(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'its folder does not exist'
      : code === 'EISDIR' ? 'a folder has that name'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'ENOSPC' ? 'the disk is full'
      : (e as Error).message;
    throw new CompileError(`cannot write ${path}: ${why}`, 'write-output');
  }
}

/** `<path>.<pid>.tmp`: the pid says whose it is, so a later write can tell a live one from a leftover. */
export function temporaryName(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

/** Removes `<path>.<pid>.tmp` files whose process is gone; another process's write in progress is left alone. */
async function removeStaleTemporaries(path: string): Promise<void> {
  const folder = dirname(path);
  const prefix = `${basename(path)}.`;
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, -'.tmp'.length));
    if (Number.isSafeInteger(pid) && pid > 0 && !running(pid)) await rm(join(folder, name), { force: true });
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, but someone else's
  }
}

/** fsync a folder so a rename in it is on disk; some platforms (Windows) cannot open folders: skip there. */
async function syncFolder(folder: string): Promise<void> {
  let handle;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch {
    // Best effort: the file itself is already synced.
  } finally {
    await handle?.close();
  }
}
