/**
 * PEFT LoRA import (compiler/adapt/peft-import.ts, safetensors.ts): a safetensors file written here by hand, as
 * `save_pretrained` lays it out, read into an AdapterModel for mnist-cnn-pytorch; module names matched to the
 * base's initializers automatically or by --map; malformed files and mismatched shapes refused with typed errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { importPeftLora } from '../../compiler/adapt/peft-import.js';
import { SeededRandom } from '../../compiler/adapt/random.js';
import { readSafetensors } from '../../compiler/adapt/safetensors.js';
import { CompileError, CompileOptionError } from '../../compiler/errors.js';
import { adapterFactorShapes } from '../../formats/adapter-model.js';
import { decodeHalf, encodeHalf } from '../../formats/float16.js';
import { MODELS } from '../e2e/real-inputs.js';
import { safetensors } from './safetensors-fixture.js';

const values = (n: number, seed: number) => {
  const r = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => r.uniform(0.1));
};
const config = (extra: object = {}) => JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['conv2', 'fc1'], ...extra });

describe('PEFT LoRA import', () => {
  let lrm: Uint8Array;
  const conv2A = values(4 * 32 * 3 * 3, 1);
  const conv2B = values(64 * 4, 2);
  const fc1A = values(4 * 3136, 3);
  const fc1B = values(128 * 4, 4);
  const adapterFile = () =>
    safetensors({
      'base_model.model.conv2.lora_A.weight': { dtype: 'F32', shape: [4, 32, 3, 3], values: conv2A },
      'base_model.model.conv2.lora_B.weight': { dtype: 'F16', shape: [64, 4, 1, 1], values: conv2B },
      'base_model.model.fc1.lora_A.weight': { dtype: 'F32', shape: [4, 3136], values: fc1A },
      'base_model.model.fc1.lora_B.weight': { dtype: 'F32', shape: [128, 4], values: fc1B },
    });

  beforeAll(async () => {
    ({ lrm } = await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))), { fileName: 'mnist-cnn-pytorch.onnx', tiers: [0.2, 1], allocation: 'sigma' }));
  });

  it('reads a hand-written safetensors file: F32 exactly, F16 widened', () => {
    const t = readSafetensors(adapterFile());
    expect([...t.keys()]).toHaveLength(4);
    expect(t.get('base_model.model.fc1.lora_A.weight')!.data).toEqual(fc1A);
    expect(t.get('base_model.model.conv2.lora_B.weight')!.data).toEqual(decodeHalf(encodeHalf(conv2B)));
    expect(t.get('base_model.model.conv2.lora_A.weight')!.shape).toEqual([4, 32, 3, 3]);
  });

  it('maps modules to the base weights by name (conv2 → conv2.weight): up = lora_B, down = lora_A, alpha = lora_alpha', async () => {
    const adapter = await importPeftLora(lrm, config(), adapterFile());
    expect(adapter.kind).toBe('lora');
    expect(adapter.dtype).toBe('fp32');
    expect(adapter.layers.map((l) => [l.target, l.rows, l.cols, l.rank, l.alpha])).toEqual([
      ['conv2.weight', 64, 288, 4, 8],
      ['fc1.weight', 128, 3136, 4, 8],
    ]);
    for (const l of adapter.layers) expect(l.factors.map((f) => f.length)).toEqual(adapterFactorShapes('lora', l).map(([r, c]) => r * c));
    const [conv2, fc1] = adapter.layers;
    expect(conv2.factors[0]).toEqual(decodeHalf(encodeHalf(conv2B)));
    expect(conv2.factors[1]).toEqual(conv2A);
    expect(fc1.factors[0]).toEqual(fc1B);
    expect(fc1.factors[1]).toEqual(fc1A);
  });

  it('rsLoRA keeps its scale lora_alpha/√r as alpha/rank', async () => {
    const adapter = await importPeftLora(lrm, config({ use_rslora: true }), adapterFile());
    for (const l of adapter.layers) expect(l.alpha / l.rank).toBeCloseTo(8 / Math.sqrt(4), 10);
  });

  it('--map names the weight of a module whose name the base does not use', async () => {
    const file = safetensors({
      'base_model.model.classifier.lora_A.weight': { dtype: 'F32', shape: [2, 128], values: values(256, 5) },
      'base_model.model.classifier.lora_B.weight': { dtype: 'F32', shape: [10, 2], values: values(20, 6) },
    });
    const refused = await importPeftLora(lrm, config({ r: 2 }), file).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CompileOptionError);
    expect((refused as Error).message).toMatch(/PEFT module "classifier" matches no single weight .*--map classifier=<initializer>.*fc2\.weight/);
    const adapter = await importPeftLora(lrm, config({ r: 2 }), file, { map: ['classifier=fc2.weight'] });
    expect(adapter.layers.map((l) => [l.target, l.rows, l.cols, l.rank])).toEqual([['fc2.weight', 10, 128, 2]]);
    await expect(importPeftLora(lrm, config(), file, { map: ['classifier=fc1.weight'] })).rejects.toThrow(/not the 128×3136 of "fc1\.weight"/);
    await expect(importPeftLora(lrm, config(), file, { map: ['classifier'] })).rejects.toThrow(/is not module=initializer/);
  });

  it('refuses malformed files, other dtypes and other PEFT types with typed errors', async () => {
    const good = adapterFile();
    const code = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as CompileError).code;
    expect(() => readSafetensors(good.subarray(0, 6))).toThrow(CompileError);
    const tooLong = good.slice();
    new DataView(tooLong.buffer).setBigUint64(0, BigInt(good.length), true);
    expect(() => readSafetensors(tooLong)).toThrow(/header length .* runs past the end/);
    expect(() => readSafetensors(good.subarray(0, good.length - 4))).toThrow(/ends past the end of the file/);
    const bf16 = safetensors({ x: { dtype: 'BF16', shape: [2], values: new Float32Array(2) } });
    expect(() => readSafetensors(bf16)).toThrow(/"x" is BF16; only F32 and F16/);
    expect(await code(importPeftLora(lrm, config({ peft_type: 'LOHA' }), good))).toBe('peft-config');
    expect(await code(importPeftLora(lrm, '{not json', good))).toBe('peft-config');
    expect(await code(importPeftLora(lrm, config(), safetensors({ other: { dtype: 'F32', shape: [1], values: new Float32Array(1) } })))).toBe('peft-tensors');
  });
});
