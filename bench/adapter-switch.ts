/**
 * Adapters (issue 17) on ort-node-cpu with mnist-cnn-pytorch (fp32, tier 1: conv2 and fc1 factored): in one process,
 * side by side, the time of switching adapters between two runs against a fresh load() of the same file, and the
 * run latency with and without an adapter. Prints JSON (median and p95 over the repeats, ms).
 *
 *   npm run build && node dist/bench/adapter-switch.js [--repeats 200] [--tiers 1]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileOnnx } from '../compiler/compile.js';
import { openDataset } from '../compiler/data/spec.js';
import { SeededRandom } from '../compiler/adapt/random.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { adapterFactorShapes, type AdapterKind, type AdapterModel } from '../formats/adapter-model.js';
import type { AdapterTarget } from '../runtime/adapters/targets.js';
import { load } from '../runtime/node.js';
import type { Feeds } from '../runtime/tensor.js';
import { projectRoot } from './cli.js';

/** What randomAdapter needs of a weight an adapter may change: its name and matrix view (rows = outputs, cols = inputs). */
export type TargetShape = Pick<AdapterTarget, 'target' | 'rows' | 'cols'>;

/**
 * A random adapter of `kind` for `targets`, with factors of standard deviation `std` (LoKr: w1 = 1 ± std, each kron
 * side the first of 4, 3, 2 that divides the weight's side, else 1); the rank is capped to what the layer allows.
 */
export function randomAdapter(kind: AdapterKind, headerSha256: string, targets: readonly TargetShape[], options: { seed: number; rank: number; std: number; alpha?: number }): AdapterModel {
  const random = new SeededRandom(options.seed);
  const layers = targets.map(({ target, rows, cols }) => {
    const kron: [number, number] | undefined = kind === 'lokr' ? [divisor(rows), divisor(cols)] : undefined;
    const inner = kron ? Math.min(rows / kron[0], cols / kron[1]) : Math.min(rows, cols);
    const rank = Math.min(options.rank, inner);
    const shapes = adapterFactorShapes(kind, { rows, cols, rank, kron });
    const factors = shapes.map(([r, c], i) => Float32Array.from({ length: r * c }, () => (kind === 'lokr' && i === 0 ? 1 : 0) + options.std * random.normal()));
    return { target, rows, cols, rank, alpha: options.alpha ?? rank, factors, ...(kron ? { kron } : {}) };
  });
  return { kind, base: { headerSha256, fileName: 'mnist-cnn-pytorch.lrm' }, dtype: 'fp32', layers, notes: [`random ${kind}, seed ${options.seed}`] };
}

function divisor(n: number): number {
  return [4, 3, 2].find((d) => n % d === 0 && n / d >= 2) ?? 1;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const stats = (values: number[]) => ({ medianMs: +percentile(values, 0.5).toFixed(4), p95Ms: +percentile(values, 0.95).toFixed(4) });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeats: { type: 'string', default: '200' }, tiers: { type: 'string', default: '1' } } });
  const repeats = Number(values.repeats);
  const tiers = Number(values.tiers);
  const data = join(projectRoot(), '../shared/data');
  const source = new Uint8Array(readFileSync(join(data, 'models/mnist-cnn-pytorch.onnx')));
  const input = importOnnx(source).inputs[0]!;
  const { lrm, header } = await compileOnnx(source, { fileName: 'mnist-cnn-pytorch.onnx' });
  const digits = await openDataset(`mnist:${join(data, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5], limit: 1 });
  let feeds: Feeds | undefined;
  for await (const b of digits.batches(1)) feeds ??= { [input.name]: b.input };

  const session = await load(lrm, { engine: 'ort-node-cpu', tiers });
  const fc1 = header.layers.find((l) => l.weight === 'fc1.weight')!;
  const targets = [{ target: 'fc1.weight', rows: fc1.rows, cols: fc1.cols }, { target: 'conv1.weight', rows: 32, cols: 9 }];
  const time = async (f: () => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  // The first loadAdapter builds the adapter engine session; later ones on the same weights only prepare feeds.
  const firstLoad = await time(() => session.loadAdapter(randomAdapter('lora', session.headerSha256, targets, { seed: 1, rank: 8, std: 0.05 }), 'a'));
  const laterLoads: number[] = [];
  for (let i = 2; i < 12; i++) laterLoads.push(await time(() => session.loadAdapter(randomAdapter('lora', session.headerSha256, targets, { seed: i, rank: 4, std: 0.05 }), i === 2 ? 'b' : `x${i}`)));

  const run = (adapter?: string) => time(() => session.run(feeds!, { adapter }));
  const base: number[] = [];
  const same: number[] = [];
  const switched: number[] = [];
  for (let i = 0; i < 50; i++) await Promise.all([run(), run('a'), run('b')]);
  for (let i = 0; i < repeats; i++) {
    await run();
    base.push(await run());
    await run('a');
    same.push(await run('a'));
    // A run with the other adapter right after one with this one: the switch is all it costs.
    switched.push(await run('b'));
    switched.push(await run('a'));
  }
  const reload: number[] = [];
  for (let i = 0; i < Math.min(repeats, 40); i++) {
    reload.push(await time(async () => {
      const fresh = await load(lrm, { engine: 'ort-node-cpu', tiers });
      await fresh.run(feeds!);
      await fresh.release();
    }));
  }
  await session.release();
  const mBase = percentile(base, 0.5);
  const mSame = percentile(same, 0.5);
  const mSwitched = percentile(switched, 0.5);
  console.log(JSON.stringify({
    model: 'mnist-cnn-pytorch (fp32)', engine: 'ort-node-cpu', tiers, ranks: session.ranks, repeats, batch: 1,
    adapters: 'lora on fc1.weight (factored layer) + conv1.weight (dense layer); a: rank 8, b and 9 more: rank 4',
    loadAdapterMs: { firstWithEngineBuild: +firstLoad.toFixed(2), laterNoBuild: stats(laterLoads) },
    runBase: stats(base),
    runWithAdapterSameAsBefore: stats(same),
    runWithAdapterAfterSwitch: stats(switched),
    switchCostMs: +(mSwitched - mSame).toFixed(4),
    adapterOverheadMs: +(mSame - mBase).toFixed(4),
    freshLoadAndFirstRun: { ...stats(reload), repeats: reload.length },
  }, null, 2));
}

if (process.argv[1]?.endsWith('adapter-switch.js')) await main();
