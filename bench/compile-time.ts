/**
 * Calibrated compile time with a phase breakdown (issue 3, item 6: "the calibrated compile of a 25M-parameter
 * model with 256 calibration images finishes in under 5 minutes on this 2-core machine").
 *
 *   npm run build && node dist/bench/compile-time.js [--models a,b] [--limit 256] [--allocate sigma] [--data dir]
 *
 * Compiles each model as `lowrank compile --calib … --calib-limit <limit>` does (whitened SVD + sensitivity
 * allocation, default tiers, sensitivity on 64 samples) and prints wall time per phase. `--allocate sigma` skips
 * the sensitivity phase (one full-model run on 64 samples per layer and grid rank); `--allocate default` does what
 * `lowrank compile --calib` does by default: sensitivity unless it counts over 4,000 G multiply-adds. Models: the two largest
 * of the bench (MobileNet v1 0.75 from ../shared/data, PP-OCRv4 det fetched by bench/fetch-models.mjs) and a
 * ResNet-50-shaped model with random weights (25.5M weights, bench/synthetic-resnet50.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileOnnx, type CompileProgress } from '../compiler/compile.js';
import { feedBatches, openDataset, type DataOptions } from '../compiler/data/spec.js';
import { findCandidates } from '../compiler/factorize/candidates.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { projectRoot } from './cli.js';
import { syntheticResnet50 } from './synthetic-resnet50.js';

interface TimedModel {
  id: string;
  path: (data: string, root: string) => string;
  /** Built in memory instead of read from `path`. */
  build?: () => Uint8Array;
  /** Calibration images are read from imagenet-sample with this preprocessing; layout overrides the model's input. */
  pre: Omit<DataOptions, 'layout' | 'limit' | 'offset'>;
  layout?: number[];
}

const MODELS: TimedModel[] = [
  { id: 'mobilenet_v1_075_224', path: (data) => join(data, 'models', 'mobilenet_v1_075_224.onnx'), pre: { mean: [0.5], std: [0.5] } },
  {
    id: 'ppocr-v4-det',
    path: (_, root) => join(root, 'bench', 'models', 'ppocr-v4-det.onnx'),
    pre: { resize: 'stretch', channelOrder: 'BGR', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    layout: [1, 3, 320, 320],
  },
  // ResNet-50's shapes with random weights (bench/synthetic-resnet50.ts): the issue's 25M-parameter target.
  { id: 'resnet50-synthetic', path: () => 'resnet50-synthetic.onnx', build: syntheticResnet50, pre: {} },
];

/** Same batch size and sensitivity samples as `lowrank compile` (cli/compile.ts). */
const CALIBRATION_BATCH = 32;
const SENSITIVITY_SAMPLES = 64;

async function timeCompile(m: TimedModel, data: string, root: string, limit: number, allocation: 'sigma' | 'sensitivity' | 'default'): Promise<void> {
  const path = m.path(data, root);
  if (!m.build && !existsSync(path)) {
    process.stderr.write(`compile-time: ${m.id}: ${path} is missing, skipped\n`);
    return;
  }
  const source = m.build ? m.build() : new Uint8Array(readFileSync(path));
  const model = importOnnx(source, path);
  const params = findCandidates(model).reduce((s, c) => s + c.rows * c.cols, 0);
  const dataset = await openDataset(`imagenet:${join(data, 'imagenet-sample')}`, { ...m.pre, layout: m.layout ?? model.inputs[0]!.shape, limit, offset: 0 });
  const phases = new Map<CompileProgress['phase'], { start: number; end: number }>();
  const started = performance.now();
  let last = started;
  const result = await compileOnnx(source, {
    calibration: feedBatches(dataset, model.inputs, CALIBRATION_BATCH),
    calibrationSize: dataset.size,
    allocation: allocation === 'default' ? undefined : allocation,
    sensitivityBatches: Math.ceil(SENSITIVITY_SAMPLES / CALIBRATION_BATCH),
    fileName: path,
    onProgress: (p) => {
      const now = performance.now();
      const t = phases.get(p.phase);
      // A phase runs from the previous event (the end of the phase before it) to its own last event.
      if (t) t.end = now;
      else phases.set(p.phase, { start: last, end: now });
      last = now;
    },
  });
  const total = (performance.now() - started) / 1000;
  const parts = [...phases].map(([phase, t]) => `${phase} ${((t.end - t.start) / 1000).toFixed(1)} s`).join(', ');
  process.stdout.write(`${m.id}: ${(params / 1e6).toFixed(1)}M factorable weights, ${dataset.size} calibration images, allocation ${allocation} (${result.allocation.method}${result.allocation.note ? `: ${result.allocation.note}` : ''}): ${total.toFixed(1)} s (${parts}; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores)\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string' }, limit: { type: 'string', default: '256' }, allocate: { type: 'string', default: 'sensitivity' }, data: { type: 'string' } } });
  const allocation = values.allocate;
  if (allocation !== 'sigma' && allocation !== 'sensitivity' && allocation !== 'default') throw new Error(`--allocate must be sigma, sensitivity or default, got ${allocation}`);
  const root = projectRoot();
  const data = values.data ?? join(root, '..', 'shared', 'data');
  const wanted = values.models?.split(',');
  // The fetched models (bench/models/, gitignored), as the bench does it.
  spawnSync(process.execPath, [join(root, 'bench', 'fetch-models.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const m of MODELS) if (!wanted || wanted.includes(m.id)) await timeCompile(m, data, root, Number(values.limit), allocation);
}

main().catch((e: unknown) => {
  process.stderr.write(`compile-time: error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
