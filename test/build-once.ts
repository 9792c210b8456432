/**
 * Vitest global setup: dist/ (what the CLI, the browser pages and the examples load) built once, before any test file
 * runs, and only when a source is newer than the last build (`npm test` has just built it).
 *
 * Why not in each file's beforeAll: with two workers, one file's rebuild rewrote dist/ while another file's CLI
 * child loaded it, and the child read a file mid-write ("The requested module './memory-estimate.js' does not
 * provide an export named 'engineWeightBytes'": a CI run of 2026-12-07 failed two adapt tests on it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli/helpers.js';

/** Written last by `npm run build` (scripts/bundle.mjs). */
const BUILD_STAMP = 'dist/.build-stamp';

/** What `npm run build` reads: the folders tsconfig.json's include patterns start with, the bundler script and the configs. */
function sources(): string[] {
  const include = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;
  return [...new Set(include.map((pattern) => pattern.split('/')[0]!)), 'scripts', 'tsconfig.json', 'package.json'];
}

function newestSource(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    // Not sources: dependencies, generated examples/out and bench/results.
    if (entry.name === 'node_modules' || entry.name === 'out' || entry.name === 'results' || entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory() || /\.(ts|mjs|js|json)$/.test(entry.name)) newest = Math.max(newest, newestSource(child));
  }
  return newest;
}

export default function setup(): void {
  const stamp = join(ROOT, BUILD_STAMP);
  const newest = Math.max(...sources().map((s) => join(ROOT, s)).filter(existsSync).map(newestSource));
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
}
