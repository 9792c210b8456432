import { rename, rm, writeFile } from 'node:fs/promises';
import { CompileError } from '../errors.js';

/**
 * Write next to the target and rename, so an interrupted or failed write never leaves a half-written
 * file under the user's name; on any failure the temporary file is removed too.
 */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
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
