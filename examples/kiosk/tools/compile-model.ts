/**
 * The kiosk's model: MobileNet v1 0.75 compiled by `lowrank compile` with int8 factors, calibrated on ImageNet
 * photos (activation-aware factorisation, ranks by measured sensitivity). A plain SVD of this network gives
 * nonsense below full rank (dog.jpg: "vine snake", "quill" at 60-85% of the parameters); calibrated, the first
 * tier already agrees with the original. Compiled once into examples/out/kiosk/ (the name carries the options).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KioskPaths } from './paths.js';

export const KIOSK_ONNX = 'models/mobilenet_v1_075_224.onnx';

/** Cumulative parameter budgets of the tiers: the first is the smallest that still gets dog.jpg right. */
export const KIOSK_TIERS = '0.9,1';

/** The CLI arguments after `compile <onnx>`, calibration photos under `data`. */
export function compileArguments(data: string): string[] {
  return [
    '--tiers', KIOSK_TIERS,
    '--dtype', 'int8',
    '--calib', `imagenet:${join(data, 'imagenet-sample')}`,
    '--calib-limit', '128',
    '--mean', '0.5',
    '--std', '0.5',
  ];
}

/** The compiled .lrm, compiled now if this set of options has not been compiled before. */
export function ensureKioskModel(paths: KioskPaths, log: (line: string) => void = console.log): string {
  const onnx = join(paths.data, KIOSK_ONNX);
  const args = compileArguments(paths.data);
  const tag = createHash('sha256').update(args.join(' ')).digest('hex').slice(0, 8);
  const out = join(paths.models, `mobilenet_v1_075_224.${tag}.lrm`);
  if (existsSync(out)) return out;
  if (!existsSync(onnx)) throw new Error(`the kiosk compiles ${onnx}, which is missing (the shared data folder beside the project)`);
  mkdirSync(paths.models, { recursive: true });
  log(`compiling ${onnx} (calibrated, about 1-2 minutes once)…`);
  execFileSync(process.execPath, [join(paths.root, 'bin/lowrank.js'), 'compile', onnx, '-o', out, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  return out;
}

/**
 * The search panel's sentence encoder: USE-lite (a 2-layer transformer, 28 MB as ONNX) compiled plain (no
 * calibration: it compiles in about a minute once; a calibrated compile, `--calib sts:…/sts-train.csv`, takes
 * several) to int4 groups of 64 with a 75% tier and the full tier. The page loads SEARCH_TIERS of them.
 */
export const SEARCH_ONNX = 'models/use-lite/use_lite.onnx';
export const SEARCH_VOCAB = 'models/use-lite/vocab.json';

export function searchCompileArguments(): string[] {
  return ['--dtype', 'int4', '--group-size', '64', '--tiers', '0.75,1'];
}

/** The compiled USE-lite .lrm, compiled now if this set of options has not been compiled before (cached like MobileNet's). */
export function ensureSearchModel(paths: KioskPaths, log: (line: string) => void = console.log): string {
  const onnx = join(paths.data, SEARCH_ONNX);
  const args = searchCompileArguments();
  const tag = createHash('sha256').update(args.join(' ')).digest('hex').slice(0, 8);
  const out = join(paths.models, `use_lite.${tag}.lrm`);
  if (existsSync(out)) return out;
  if (!existsSync(onnx)) throw new Error(`the kiosk's search panel compiles ${onnx}, which is missing (the shared data folder beside the project)`);
  mkdirSync(paths.models, { recursive: true });
  log(`compiling ${onnx} for the search panel (int4, about a minute once)…`);
  execFileSync(process.execPath, [join(paths.root, 'bin/lowrank.js'), 'compile', onnx, '-o', out, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  return out;
}
