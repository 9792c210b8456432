/**
 * File-system access for the readers. Node's errors (ENOENT, ENOTDIR, …) are turned into DataErrors that name
 * the path and what it was meant to be, so a typo in `--data` reads as one clear line, not a stack trace.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataNotFoundError } from './errors.js';

function describe(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** Reads a whole file; `what` names it in the error ("input file", "synset file", …). */
export async function readFileOrThrow(path: string, what = 'file'): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataNotFoundError(`${what} not found: ${path}`, { cause: err });
    if (code === 'EISDIR') throw new DataNotFoundError(`${what} is a directory, expected a file: ${path}`, { cause: err });
    throw new DataNotFoundError(`cannot read ${what} ${path} (${describe(err)})`, { cause: err });
  }
  // A plain Uint8Array view, not a Buffer: Buffer#slice shares memory while Uint8Array#slice copies, and the
  // readers rely on the latter.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
}

/**
 * Lists a directory, sorted by name with a plain code-unit comparison (not locale-aware), so that sample order,
 * and therefore offset/limit slices, are the same on every machine.
 * Symbolic links are followed so that a directory of links to the real files works.
 */
export async function listDirectory(dir: string, what = 'data directory'): Promise<DirEntry[]> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    throw new DataNotFoundError(`${what} not found: ${dir}`, { cause: err });
  }
  if (!st.isDirectory()) throw new DataNotFoundError(`${dir} is not a directory (expected the ${what})`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DataNotFoundError(`cannot list ${what} ${dir} (${describe(err)})`, { cause: err });
  }
  names.sort(compareCodeUnits);
  const out: DirEntry[] = [];
  for (const name of names) {
    let s;
    try {
      s = await stat(join(dir, name));
    } catch {
      continue; // a dangling link is not a sample
    }
    out.push({ name, isFile: s.isFile(), isDirectory: s.isDirectory() });
  }
  return out;
}

/** Deterministic string order, independent of the locale (Array.prototype.sort's default is the same). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
