#!/usr/bin/env node
// Issue 17's measurement: an adapter for mnist-cnn-pytorch on inverted-contrast digits (scripts/invert-mnist.mjs),
// trained on inverted test digits 0–4999 and measured on 5000–9999 with onnxruntime-node on the base with the
// adapter merged in (W + ΔW), at every tier. Needs `npm run build`.
//   node scripts/adapt-mnist-inverted.mjs <base.lrm> <inverted dir> [--kind lora] [--rank 8] [--layers a,b]
//     [--steps N] [--lr X] [--batch N] [--tiers 0,4] [--train-limit N] [--seed N] [--alpha X] [--lokr-factor N]
// Prints one JSON line: settings, seconds, sizes, held-out accuracy per tier of the base and of the merged model.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { trainAdapter } from '../dist/compiler/adapt/train.js';
import { mergeAdapter } from '../dist/compiler/adapt/merge.js';
import { openAdapterBase } from '../dist/compiler/adapt/base.js';
import { labelledSamples } from '../dist/compiler/adapt/labelled.js';
import { openDataset } from '../dist/compiler/data/spec.js';
import { evaluateClassifier } from '../dist/compiler/evaluate.js';
import { buildOnnxModel } from '../dist/runtime/onnx/build-model.js';
import { engines } from '../dist/runtime/node.js';
import { decodeHalf, encodeHalf } from '../dist/formats/float16.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kind: { type: 'string', default: 'lora' }, rank: { type: 'string' }, alpha: { type: 'string' }, layers: { type: 'string' },
    steps: { type: 'string' }, lr: { type: 'string' }, batch: { type: 'string' }, tiers: { type: 'string' },
    'train-limit': { type: 'string', default: '5000' }, seed: { type: 'string' }, 'eval-tiers': { type: 'string' }, 'lokr-factor': { type: 'string' },
  },
});
const [lrmPath, dir] = positionals;
const num = (v) => (v === undefined ? undefined : Number(v));
const bytes = new Uint8Array(readFileSync(lrmPath));
const base = await openAdapterBase(bytes, lrmPath);
const input = base.header.graph.inputs[0];
const norm = { layout: input.shape, mean: [0.5], std: [0.5] };
const trainSet = await openDataset(`mnist:${dir}`, { ...norm, offset: 0, limit: Number(values['train-limit']) });
const testSet = await openDataset(`mnist:${dir}`, { ...norm, offset: 5000, limit: 5000 });

const { adapter, report } = await trainAdapter(bytes, labelledSamples(trainSet, [input]), {
  kind: values.kind, rank: num(values.rank), alpha: num(values.alpha), layers: values.layers?.split(','),
  steps: num(values.steps), learningRate: num(values.lr), batchSize: num(values.batch), seed: num(values.seed),
  tiers: values.tiers?.split(',').map(Number), lokrFactor: num(values['lokr-factor']), fileName: lrmPath,
  onProgress: (step, steps, detail) => process.stderr.write(`\r${step}/${steps} ${detail}   `),
});
process.stderr.write('\n');

const engine = engines.get('ort-node-cpu');
const accuracy = async (model) => {
  const session = await engine.create(model);
  try {
    return (await evaluateClassifier(session, testSet, { inputName: input.name, batchSize: 250 })).accuracy;
  } finally {
    await session.release();
  }
};
const evalTiers = values['eval-tiers']?.split(',').map(Number) ?? base.header.tiers.map((t) => t.index);
const tiers = [];
for (const tier of evalTiers) {
  const plain = await accuracy(buildOnnxModel(base.header, base.payload, base.header.tiers[tier].ranks));
  const merged = await accuracy(await mergeAdapter(base, adapter, { tier }));
  const fp16 = await accuracy(await mergeAdapter(base, { ...adapter, layers: adapter.layers.map((l) => ({ ...l, factors: l.factors.map(roundHalf) })) }, { tier }));
  tiers.push({ tier, base: plain, adapted: merged, adaptedFp16: fp16 });
}
console.log(JSON.stringify({
  kind: report.kind, rank: report.rank, alpha: report.alpha, targets: report.targets, trainedTiers: report.trainedTiers,
  steps: report.steps, bestStep: report.bestStep, seconds: Number(report.seconds.toFixed(1)), trainSamples: report.trainSamples,
  heldOut: report.validationAccuracyAfter.map((a) => Number(a.toFixed(2))),
  bytes: { ...report.bytes, fp32Pct: Number(((100 * report.bytes.fp32) / report.bytes.base).toFixed(2)), fp16Pct: Number(((100 * report.bytes.fp16) / report.bytes.base).toFixed(2)) },
  tiers,
}));

/** Factors rounded through IEEE half, as an fp16 adapter file stores them. */
function roundHalf(f) {
  return decodeHalf(encodeHalf(f));
}
