/**
 * `lowrank adapt` → `.lra` → `lowrank eval/run --adapter` (issue 17's command line), on the real task in small: a
 * LoRA for mnist-cnn-pytorch on inverted-contrast digits (scripts/invert-mnist.mjs), trained briefly on digits
 * 0–599 and measured on 5000–5299. The adapter must lift the inverted digits far above the base (which gets about
 * 45%: on 300 digits its 95% interval is about ±5.6 points) and leave runs without it unchanged.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../compiler/adapt/random.js';
import { safetensors } from '../compiler/safetensors-fixture.js';
import { cli, cliJson, cliOk, DATA, MNIST_CNN, ROOT } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lowrank-adapt-'));
const model = join(dir, 'm.lrm');
const adapter = join(dir, 'inv.lra');
const inverted = join(dir, 'inverted');
const norm = ['--mean', '0.5', '--std', '0.5'];

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/invert-mnist.mjs'), join(DATA, 'mnist'), inverted], { stdio: 'pipe' });
  cliOk('compile', MNIST_CNN, '-o', model, '--tiers', '0.2,1');
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface EvalJson {
  adapter?: { bytes: number };
  tiers: Array<{ tier: number; accuracy: number; withoutAdapter?: number }>;
}

describe('lowrank adapt', () => {
  it('trains a LoRA that eval --adapter measures far above the base on held-out inverted digits; run --adapter applies it', () => {
    const report = cliJson<{ fileBytes: number; kind: string; targets: string[]; bytes: { base: number } }>(
      'adapt', model, '--data', `mnist:${inverted}`, '--limit', '600', '--steps', '30', '--lr', '0.03', ...norm, '-o', adapter, '--json',
    );
    expect(report.kind).toBe('lora');
    expect(report.fileBytes).toBe(readFileSync(adapter).length);
    expect(report.fileBytes / report.bytes.base).toBeLessThanOrEqual(0.03);
    expect(cliOk('inspect', adapter).stdout).toContain('lora');

    const evaluated = cliJson<EvalJson>('eval', model, '--adapter', adapter, '--data', `mnist:${inverted}`, '--offset', '5000', '--limit', '300', ...norm, '--all-tiers', '--json');
    expect(evaluated.adapter?.bytes).toBe(report.fileBytes);
    for (const t of evaluated.tiers) {
      expect(t.withoutAdapter!).toBeLessThan(65);
      expect(t.accuracy).toBeGreaterThan(t.withoutAdapter! + 25);
    }
    // Without --adapter the same tier gives what "without" said: loading an adapter changes nothing else.
    const plain = cliJson<EvalJson>('eval', model, '--data', `mnist:${inverted}`, '--offset', '5000', '--limit', '300', ...norm, '--all-tiers', '--json');
    expect(plain.tiers.map((t) => t.accuracy)).toEqual(evaluated.tiers.map((t) => t.withoutAdapter));

    const digit = join(dir, 'digit.json');
    writeFileSync(digit, JSON.stringify({ input: { dims: [1, 1, 28, 28], dataType: 'float32', data: Array.from({ length: 784 }, (_, i) => (i % 29 === 0 ? -1 : 1)) } }));
    const withIt = cliJson<{ outputs: Record<string, { values: number[] }> }>('run', model, '--input', digit, '--adapter', adapter, '--json');
    const without = cliJson<{ outputs: Record<string, { values: number[] }> }>('run', model, '--input', digit, '--json');
    expect(Object.values(withIt.outputs)[0]!.values).not.toEqual(Object.values(without.outputs)[0]!.values);
  }, 240_000);

  it('--from-peft converts a PEFT LoRA (adapter_config.json + adapter_model.safetensors) into an .lra that run --adapter applies', () => {
    const peft = join(dir, 'peft');
    mkdirSync(peft);
    const r = new SeededRandom(7);
    const values = (n: number) => Float32Array.from({ length: n }, () => r.uniform(0.05));
    writeFileSync(join(peft, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['conv2'] }));
    writeFileSync(join(peft, 'adapter_model.safetensors'), safetensors({
      'base_model.model.conv2.lora_A.weight': { dtype: 'F32', shape: [4, 32, 3, 3], values: values(4 * 32 * 9) },
      'base_model.model.conv2.lora_B.weight': { dtype: 'F16', shape: [64, 4, 1, 1], values: values(64 * 4) },
    }));
    const converted = join(dir, 'peft.lra');
    const out = cliJson<{ targets: string[]; ranks: number[] }>('adapt', model, '--from-peft', peft, '-o', converted, '--json');
    expect(out).toMatchObject({ targets: ['conv2.weight'], ranks: [4] });
    expect(cliOk('inspect', converted).stdout).toContain('conv2.weight');
  }, 60_000);

  it('refuses bad options and another base in one line', () => {
    const kind = cli('adapt', model, '--data', `mnist:${inverted}`, '--kind', 'lorax', '-o', join(dir, 'x.lra'));
    expect(kind.status).not.toBe(0);
    expect(kind.stderr.trim().split('\n')).toHaveLength(1);
    expect(kind.stderr).toContain('--kind must be lora, loha, lokr');
    const other = join(dir, 'other.lrm');
    cliOk('compile', MNIST_CNN, '-o', other, '--tiers', '0.5,1');
    const wrong = cli('eval', other, '--adapter', adapter, '--data', `mnist:${inverted}`, '--limit', '10', ...norm);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/trained for base .* this model is/);
  }, 120_000);
});
