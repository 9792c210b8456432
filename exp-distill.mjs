// Experiment: distillation settings on an existing calibrated .lrm (no recalibration).
import { readFileSync } from 'node:fs';
import { readLrm } from './dist/formats/read.js';
import { gatherFactors } from './dist/runtime/factors.js';
import { distillFactors } from './dist/compiler/distill/distill.js';
import { openDataset, feedBatches } from './dist/compiler/data/spec.js';
import { importOnnx } from './dist/compiler/import/onnx.js';
const [lrmPath, train, lr, steps, batch, tiers] = process.argv.slice(2);
const source = new Uint8Array(readFileSync('/work/shared/data/models/mobilenet_v1_075_224.onnx'));
const { header, payload } = await readLrm(new Uint8Array(readFileSync(lrmPath)));
const factors = header.layers.map((l) => { const f = gatherFactors(l, l.maxRank, payload, header.factorDType); return { rank: l.maxRank, sigma: Float64Array.from(l.sigma), left: Float64Array.from(f.left), right: Float64Array.from(f.right) }; });
const inputs = importOnnx(source).inputs;
const data = await openDataset('imagenet:/work/shared/data/imagenet-sample', { layout: inputs[0].shape, mean: [0.5], std: [0.5], limit: 250 });
const t0 = performance.now();
const r = await distillFactors(source, header, payload, factors, () => feedBatches(data, inputs, 32), {
  train, learningRate: Number(lr), steps: Number(steps), batchSize: Number(batch), tiers: tiers.split(',').map(Number), augment: { flip: true },
  onProgress: (s, n, d) => console.log(`${s}/${n} ${((performance.now() - t0) / 1000).toFixed(0)}s ${d}`),
});
console.log(JSON.stringify(r.report));
