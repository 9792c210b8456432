/**
 * Every .lra file in a directory, loaded at startup as the adapter named after its file (line-a.lra → "line-a"),
 * in name order. A file that is damaged or made for another model stops the startup: a service that came up
 * without an adapter its callers name would answer 400 to each of their requests instead.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LrmSession } from '../../runtime/node.js';

export class AdapterDirError extends Error {
  override name = 'AdapterDirError';
}

export async function loadAdapterDir(session: LrmSession, dir: string): Promise<string[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.lra')).sort();
  } catch (e) {
    throw new AdapterDirError(`cannot read the adapter directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  for (const file of files) {
    const name = basename(file, '.lra');
    try {
      await session.loadAdapter(new Uint8Array(await readFile(join(dir, file))), name);
    } catch (e) {
      throw new AdapterDirError(`adapter ${join(dir, file)}: ${(e as Error).message}`);
    }
  }
  return files.map((f) => basename(f, '.lra'));
}
