import { readFile } from 'node:fs/promises';
import { CompileError } from '../errors.js';

/** Read a file the user named, turning ENOENT and friends into one actionable line. */
export async function readInputBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new CompileError(`cannot read ${path}: ${why}`, 'read-input');
  }
}
