import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ModelCache } from './model-cache.js';

/**
 * Sections as files under `dir` (Node): `<dir>/<header sha256>/<section>.bin`, written to a temporary name and
 * renamed, so a crash never leaves a half-written entry under the real name.
 */
export function directoryCache(dir: string): ModelCache {
  const pathOf = (key: string): string => join(dir, ...key.split('/').map((part) => part.replace(/[^A-Za-z0-9._-]/g, '_'))) + '.bin';
  return {
    kind: 'directory',
    async get(key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)));
      } catch {
        return undefined;
      }
    },
    async put(key, bytes) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
  };
}

/** $XDG_CACHE_HOME/lowrank-edge, else ~/.cache/lowrank-edge, else <tmp>/lowrank-edge-cache (no home directory). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'lowrank-edge');
  const home = homedir();
  return home ? join(home, '.cache', 'lowrank-edge') : join(tmpdir(), 'lowrank-edge-cache');
}
