import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project root: the nearest folder up from here whose package.json is lowrank-edge's (works from bench/ and dist/bench/). */
export function projectRoot(from = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lowrank-edge') return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the lowrank-edge project root (a package.json named lowrank-edge)');
  }
}
