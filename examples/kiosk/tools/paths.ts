/** Where the kiosk's inputs and outputs live, from the project root (works from examples/ and from dist/examples/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The nearest folder up from here whose package.json is lowrank-edge's. */
export function projectRoot(from = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lowrank-edge') return dir;
    if (dirname(dir) === dir) throw new Error('cannot find the lowrank-edge project root (a package.json named lowrank-edge)');
  }
}

export interface KioskPaths {
  root: string;
  /** The example's sources: index.html, kiosk.css, app/, sw/. */
  source: string;
  /** The built site, ready for any static host. */
  site: string;
  /** Compiled models, kept between builds (git-ignored). */
  models: string;
  /** The shared data folder beside the project: the ONNX model, labels, calibration photos, sample photo. */
  data: string;
}

export function kioskPaths(root = projectRoot()): KioskPaths {
  return {
    root,
    source: join(root, 'examples/kiosk'),
    site: join(root, 'dist/examples/kiosk/site'),
    models: join(root, 'examples/out/kiosk'),
    data: join(root, '../shared/data'),
  };
}
