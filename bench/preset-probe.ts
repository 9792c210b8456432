/**
 * One tuned preset measured in a fresh process (bench/presets.ts spawns it): load the .lrm with the preset on
 * the engine, time single-sample runs of the first evaluation sample (as tune does: 5 warm-ups and at least 500 ms of them, 50 runs), then top-1 accuracy
 * on the evaluation split. Usage: node dist/bench/preset-probe.js <model.lrm> <preset> <engine> <probe.json>
 * where probe.json is { "data", "mean", "std", "offset", "limit", "output"? }. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { openDataset } from '../compiler/data/spec.js';
import { evaluateClassifier, latencyPercentiles } from '../compiler/evaluate.js';
import { load, type EngineId } from '../runtime/node.js';

interface ProbeData {
  data: string;
  mean: number[];
  std: number[];
  offset: number;
  limit?: number;
  output?: string;
}

const [path, preset, engine, dataJson] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(dataJson, 'utf8')) as ProbeData;
const session = await load(path, { preset, engine: engine as EngineId });
try {
  const input = session.inputs[0];
  const dataset = await openDataset(spec.data, { mean: spec.mean, std: spec.std, offset: spec.offset, limit: spec.limit, layout: input.shape });
  let first;
  for await (const b of dataset.batches(1)) {
    first = { [input.name]: b.input };
    break;
  }
  // Latency first, in a process that has run nothing else: what an app sees after load.
  const { p50, p95 } = await latencyPercentiles(session, first!, 5, 50, 500);
  const batchSize = typeof input.shape[0] === 'number' && input.shape[0] > 0 ? input.shape[0] : 50;
  const r = await evaluateClassifier(session, dataset, { inputName: input.name, outputName: spec.output, batchSize });
  console.log(JSON.stringify({ preset, engine: session.engine, tiers: session.tiers, p50, p95, accuracy: r.accuracy, samples: dataset.size }));
} finally {
  await session.release();
}
