/**
 * Calibrates the memory estimate of ort-node-cpu (runtime/memory-estimate.ts): compiles the models below, measures
 * the peak RSS growth of loading and running each at 1, half and all tiers (one fresh process each, see
 * memory-probe.ts), and fits growth − held .lrm bytes ≈ a·(float32 weight bytes) + b by least squares.
 * Usage: npm run build && node dist/bench/memory.js [models dir]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileOnnx } from '../compiler/compile.js';
import { ENGINE_MEMORY } from '../runtime/memory-estimate.js';

const MODELS = ['mnist-mlp-784-128-64-10', 'mnist-cnn-pytorch', 'super-resolution-10', 'ultraface-RFB-320', 'yolo-fastestv2-coco-352', 'nanodet-m-coco-416', 'mobilenet_v1_075_224'];
const MB = 1024 * 1024;

interface Sample {
  model: string;
  tiers: number;
  ran: boolean;
  heldBytes: number;
  weightBytes: number;
  growthBytes: number;
  estimateMb: number;
}

const dir = process.argv[2] ?? join(import.meta.dirname, '../../../shared/data/models');
const tmp = mkdtempSync(join(tmpdir(), 'lowrank-memory-'));
const samples: Sample[] = [];
try {
  for (const model of MODELS) {
    const { lrm, header } = await compileOnnx(new Uint8Array(readFileSync(join(dir, `${model}.onnx`))), { fileName: `${model}.onnx` });
    const path = join(tmp, `${model}.lrm`);
    writeFileSync(path, lrm);
    const n = header.tiers.length;
    for (const tiers of [...new Set([1, Math.ceil(n / 2), n])]) {
      const out = execFileSync(process.execPath, [join(import.meta.dirname, 'memory-probe.js'), path, String(tiers)], { encoding: 'utf8' });
      samples.push({ model, ...JSON.parse(out.trim().split('\n').at(-1)!) });
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// Least squares for y = a·x + b with x = weight bytes, y = growth − held bytes.
const xs = samples.map((s) => s.weightBytes);
const ys = samples.map((s) => s.growthBytes - s.heldBytes);
const mean = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
const mx = mean(xs);
const my = mean(ys);
const a = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
const b = my - a * mx;

const used = ENGINE_MEMORY['ort-node-cpu'];
console.log('| model | tiers | ran | weights MB | held MB | measured growth MB | estimate MB (in use) | estimate / measured |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|');
for (const s of samples) {
  console.log(`| ${s.model} | ${s.tiers} | ${s.ran ? 'yes' : 'no'} | ${(s.weightBytes / MB).toFixed(2)} | ${(s.heldBytes / MB).toFixed(2)} | ${(s.growthBytes / MB).toFixed(1)} | ${s.estimateMb.toFixed(1)} | ${(s.estimateMb / (s.growthBytes / MB)).toFixed(2)} |`);
}
console.log(`\nfit: growth − held ≈ ${a.toFixed(2)} × weight bytes + ${(b / MB).toFixed(1)} MB (in use: ${used.perWeightByte} × weights + ${used.fixedMb} MB)`);
