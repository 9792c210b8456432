/**
 * The workstation CLI end to end: `node bin/lowrank.js compile | inspect | run | eval` as a user runs it,
 * on real models and data from ../shared/data. Builds dist/ once first (bin/lowrank.js imports dist/).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMnist } from '../../compiler/data/mnist.js';
import { writeNpy } from '../../compiler/data/npy.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { readLrm, writeLrm } from '../../formats/index.js';
import { cli, cliJson, cliOk, DATA, MNIST_CNN, MODELS, ROOT, type CliResult } from './helpers.js';

const MNIST_DIR = join(DATA, 'mnist');
const IMAGENET_DIR = join(DATA, 'imagenet-sample');
const MOBILENET = join(MODELS, 'mobilenet_v1_075_224.onnx');
const SHUFFLENET_INT8 = join(MODELS, 'shufflenet-v2-12-int8.onnx');
const LEGACY_OPSET1 = join(DATA, 'negative/mnist-cntk-opset1-legacy.onnx');
/** Every initializer element of mnist-cnn-pytorch.onnx (MANIFEST.md). */
const MNIST_CNN_PARAMS = 421_642;

interface InspectJson {
  factorDType: string;
  fileBytes: number;
  layers: Array<{ name: string; kind: string; weightDims: number[]; rows: number; cols: number; maxRank: number; rankPerTier: number[]; denseTier: number | null }>;
  tiers: Array<{ tier: number; budget: number; bits: number | null; params: number; tierBytes: number; bytesToLoad: number }>;
  presets: Array<{ name: string; tiers: number }>;
}

interface RunJson {
  engine: string;
  tiers: number;
  ranks: number[];
  outputs: Record<string, { dims: number[]; values: number[]; top?: Array<{ index: number; score: number; label?: string }> }>;
}

interface EvalRow {
  accuracy: number | null;
  params: number;
  bytes: number;
  latencyMsP50: number;
}
interface EvalJson {
  engine: string;
  samples: number;
  reference: EvalRow | null;
  tiers: Array<EvalRow & { tier: number; agreement: number | null }>;
}

let tmp: string;
/** The default compile of mnist-cnn-pytorch (fp32, 5 tiers) and what the CLI printed for it. */
let lrm: string;
let compiled: CliResult;
let digit: string;
let digitLabel: number;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lowrank-cli-'));
  const mnist = await readMnist(MNIST_DIR);
  digitLabel = mnist.labels[0];
  digit = join(tmp, 'digit.npy');
  await writeNpy(digit, { dataType: 'float32', dims: [1, 1, 28, 28], data: Float32Array.from(mnist.image(0), (v) => (v / 255 - 0.5) / 0.5) });
  lrm = join(tmp, 'mnist.lrm');
  compiled = cli('compile', MNIST_CNN, '-o', lrm);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Files a compile left next to its output that are not .lrm/.npy: temp files of an unfinished write. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

function top1(r: RunJson): number {
  const out = Object.values(r.outputs)[0];
  return out.top![0].index;
}

describe('lowrank compile', () => {
  it('writes the .lrm and prints the tier table', () => {
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(existsSync(lrm)).toBe(true);
    expect(statSync(lrm).size).toBeGreaterThan(100_000);
    expect(leftovers(tmp)).toEqual([]);
    const lines = compiled.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^compiled .*mnist-cnn-pytorch\.onnx .*→ .*mnist\.lrm/);
    expect(compiled.stdout).toMatch(/2 factored layer\(s\), 5 tier\(s\), factors fp32/);
    const head = lines.findIndex((l) => /^tier\s+budget\s+params\s+bytes to load$/.test(l));
    expect(head).toBeGreaterThanOrEqual(0);
    const rows = lines.slice(head + 1);
    expect(rows.map((r) => r.trim().split(/\s+/)[0])).toEqual(['0', '1', '2', '3', '4']);
    expect(rows[4]).toMatch(/\b1\s+421,642\s/);
  });

  it('--dtype int4 without calibration: rounds to nearest and says so; inspect shows the group size and storage', () => {
    const out = join(tmp, 'mnist-int4.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--dtype', 'int4', '--group-size', '48');
    expect(r.stdout).toMatch(/int4 \(groups of 48\): factors and \d+ dense weight\(s\) int4 \(rounded to nearest: no calibration reached them\); 0 int8/);
    expect(r.stdout).toMatch(/precision chosen by each weight's own error \(no calibration\)/);
    const d = cliJson<InspectJson & { int4GroupSize: number; int4ScaleCodes: boolean; formatVersion: number; denseStorage: Record<string, number> }>('inspect', out, '--json');
    // Version 7: scale codes (by default); --no-scale-codes writes version 4, as its layers dense at the full tier
    // keep σ only for their stored components.
    expect([d.factorDType, d.int4GroupSize, d.int4ScaleCodes, d.formatVersion]).toEqual(['int4', 48, true, 7]);
    expect(d.denseStorage.int4).toBeGreaterThan(0);
    expect(cliOk('inspect', out).stdout).toMatch(/factors int4 \(int4 groups of 48, scale codes\); weights not factored: \d+ int4/);
    const half = join(tmp, 'mnist-int4-half.lrm');
    cliOk('compile', MNIST_CNN, '-o', half, '--dtype', 'int4', '--group-size', '48', '--no-scale-codes');
    const h = cliJson<{ int4ScaleCodes: boolean; formatVersion: number; fileBytes: number }>('inspect', half, '--json');
    expect([h.int4ScaleCodes, h.formatVersion]).toEqual([false, 4]);
    expect(cliJson<{ fileBytes: number }>('inspect', out, '--json').fileBytes).toBeLessThan(h.fileBytes);
  });

  it('--dtype int4 --calib: int3 weights where measured and a 4-bit tier with their mid planes (format v6, v7 with scale codes), said by compile and inspect; --no-sequential', () => {
    const out = join(tmp, 'mnist-int3.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--dtype', 'int4', '--int4-max-error', 'inf', '--int3-max-error', 'inf', '--tiers', '1', '--calib', `mnist:${MNIST_DIR}`, '--calib-limit', '32', '--mean', '0.5', '--std', '0.5');
    // Unlimited budgets take every weight to the bottom of its ladder: int3 (on by default with --calib).
    expect(r.stdout).toMatch(/; [1-9]\d* int3 \([\w.]+ \d+\.\d\d%/);
    expect(r.stdout).toMatch(/^4-bit tiers take int3 weights to 4 bits with their mid planes, layer output error: [\w.]+ \d+\.\d\d%/m);
    expect(r.stdout).toMatch(/^0\s+1\s+3\s/m);
    expect(r.stdout).toMatch(/^1\s+1\s+4\s/m);
    // Sequential rounding is on by default with --calib: each re-rounded weight's error before → after.
    expect(r.stdout).toMatch(/^sequential rounding, .*: [\w.]+ \d+\.\d\d→\d+\.\d\d%/m);
    const off = cliOk('compile', MNIST_CNN, '-o', join(tmp, 'mnist-int3-first.lrm'), '--dtype', 'int4', '--min-bits', '3', '--int4-max-error', 'inf', '--int3-max-error', 'inf', '--tiers', '1', '--calib', `mnist:${MNIST_DIR}`, '--calib-limit', '32', '--mean', '0.5', '--std', '0.5', '--no-sequential');
    expect(off.stdout).not.toMatch(/sequential rounding/);
    expect(off.stdout).toMatch(/; [1-9]\d* int3/);
    const d = cliJson<Omit<InspectJson, 'layers'> & { formatVersion: number; denseStorage: Record<string, number>; layers: Array<{ denseStorage: string | null }> }>('inspect', out, '--json');
    expect(d.formatVersion).toBe(7);
    expect(d.tiers.map((t) => t.bits)).toEqual([3, 4]);
    expect((d.denseStorage.int3 ?? 0) + d.layers.filter((l) => l.denseStorage === 'int3').length).toBeGreaterThan(0);
    expect(cliOk('inspect', out).stdout).toMatch(/weights not factored: .*\d+ int3|dense int3/);
    // It runs, and 3 bits keep this over-parameterised model's accuracy (original 99%); eval compares the scores too.
    const e = cliJson<{ tiers: Array<{ accuracy: number; scoreError: number }> }>('eval', out, '--data', `mnist:${MNIST_DIR}`, '--offset', '1000', '--limit', '200', '--mean', '0.5', '--std', '0.5', '--reference', MNIST_CNN, '--all-tiers', '--json');
    expect(e.tiers[0].accuracy).toBeGreaterThan(95);
    expect(e.tiers[1].accuracy).toBeGreaterThan(95);
    expect(e.tiers[1].scoreError).toBeLessThan(e.tiers[0].scoreError);
  });

  it('--dtype int4 --tiers 0.2,1,1:8: a ladder over rank and bits, shown by compile and inspect', () => {
    const out = join(tmp, 'mnist-int4-ladder.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--dtype', 'int4', '--tiers', '0.2,1,1:8');
    expect(r.stdout).toMatch(/tier\s+budget\s+bits\s+params\s+bytes to load/);
    const d = cliJson<InspectJson>('inspect', out, '--json');
    expect(d.tiers.map((t) => t.bits)).toEqual([4, 4, 8]);
    expect(d.tiers[2].params).toBe(d.tiers[1].params);
    // The low planes: about one more byte per two weights than the int4 tier (a bit less than its int4 bytes).
    expect(d.tiers[2].bytesToLoad).toBeGreaterThan(1.5 * d.tiers[1].bytesToLoad);
    expect(d.tiers[2].bytesToLoad).toBeLessThan(2 * d.tiers[1].bytesToLoad);
    expect(cliOk('inspect', out).stdout).toMatch(/tier\s+budget\s+bits\s+params/);
    // The value an app pins (load(…, { integrity })): printed and in the JSON.
    expect(cliOk('inspect', out).stdout).toMatch(/^integrity: sha256-[A-Za-z0-9+/]{43}= /m);
    expect(cliJson<{ integrity: string }>('inspect', out, '--json').integrity).toMatch(/^sha256-/);
  });

  it('--dtype fp16 stores the tiers in about half the bytes', () => {
    const half = join(tmp, 'mnist-fp16.lrm');
    cliOk('compile', MNIST_CNN, '-o', half, '--dtype', 'fp16');
    const a = cliJson<InspectJson>('inspect', lrm, '--json');
    const b = cliJson<InspectJson>('inspect', half, '--json');
    expect(a.factorDType).toBe('fp32');
    expect(b.factorDType).toBe('fp16');
    expect(b.tiers.length).toBe(a.tiers.length);
    for (const [i, t] of b.tiers.entries()) {
      expect(t.params).toBe(a.tiers[i].params);
      const ratio = t.tierBytes / a.tiers[i].tierBytes;
      expect(ratio, `tier ${i}: ${t.tierBytes} vs ${a.tiers[i].tierBytes}`).toBeGreaterThan(0.45);
      expect(ratio, `tier ${i}: ${t.tierBytes} vs ${a.tiers[i].tierBytes}`).toBeLessThan(0.55);
    }
    expect(b.fileBytes).toBeLessThan(a.fileBytes * 0.6);
  });

  it('--sensitivity-max-gmac: over the limit the default compile orders by σ² and says so, naming the options', () => {
    const out = join(tmp, 'mnist-limit.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--calib', `mnist:${MNIST_DIR}`, '--calib-limit', '64', '--mean', '0.5', '--std', '0.5', '--sensitivity-max-gmac', '0.01');
    expect(r.stdout).toMatch(/ranks ordered by σ² share/);
    const note = /note: sensitivity not measured: ≈[\d.]+ G multiply-adds \(\d+ model runs × 64 samples × [\d.]+ M\), over the limit of 0\.01 G; ranks ordered by σ² share \(--allocate sensitivity measures it anyway, --sensitivity-max-gmac raises the limit\)/;
    expect(r.stdout).toMatch(note);
    expect(r.stderr).toMatch(note); // up front, before the compile goes on
    expect(cliOk('compile', MNIST_CNN, '-o', out, '--calib', `mnist:${MNIST_DIR}`, '--calib-limit', '64', '--mean', '0.5', '--std', '0.5').stdout).toMatch(/ranks ordered by measured sensitivity/);
  });

  it('--tiers 0.05,0.5,1 gives 3 tiers', () => {
    const out = join(tmp, 'mnist-3.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--tiers', '0.05,0.5,1');
    expect(r.stdout).toMatch(/3 tier\(s\)/);
    const d = cliJson<InspectJson>('inspect', out, '--json');
    expect(d.tiers.map((t) => t.budget)).toEqual([0.05, 0.5, 1]);
    expect(d.layers.every((l) => l.rankPerTier.length === 3)).toBe(true);
    expect(d.tiers[2].params).toBe(MNIST_CNN_PARAMS);
  });
});

describe('lowrank inspect --json', () => {
  let d: InspectJson;
  beforeAll(() => {
    d = cliJson<InspectJson>('inspect', lrm, '--json');
  });

  it('lists the Gemm fc1 and the conv as factored layers', () => {
    const fc1 = d.layers.find((l) => l.kind === 'gemm');
    expect(fc1).toMatchObject({ rows: 128, cols: 3136, weightDims: [128, 3136] });
    expect(fc1!.name).toMatch(/fc1/);
    const conv = d.layers.find((l) => l.kind === 'conv');
    expect(conv).toMatchObject({ rows: 64, cols: 32 * 3 * 3, weightDims: [64, 32, 3, 3] });
  });

  it('ranks grow with the tier, the last tier has every original weight, bytes to load grow', () => {
    expect(d.tiers.length).toBe(5);
    for (const l of d.layers) {
      expect(l.rankPerTier.length).toBe(d.tiers.length);
      l.rankPerTier.forEach((r, i) => {
        expect(r).toBeGreaterThanOrEqual(i === 0 ? 0 : l.rankPerTier[i - 1]);
        expect(r).toBeLessThanOrEqual(l.maxRank);
      });
    }
    expect(d.tiers.at(-1)!.params).toBe(MNIST_CNN_PARAMS);
    d.tiers.forEach((t, i) => {
      expect(t.tier).toBe(i);
      if (i > 0) {
        expect(t.bytesToLoad).toBeGreaterThan(d.tiers[i - 1].bytesToLoad);
        expect(t.params).toBeGreaterThanOrEqual(d.tiers[i - 1].params);
      }
    });
    // Never more than dense: layers past break-even are stored dense from the tier they go dense, so the full tier
    // loads the original's bytes plus the header (≤ 1.02× the ONNX file), not the factors of every layer.
    expect(d.layers.some((l) => l.denseTier !== null)).toBe(true);
    expect(d.tiers.at(-1)!.bytesToLoad).toBeLessThanOrEqual(1.02 * statSync(MNIST_CNN).size);
    expect(d.tiers.at(-1)!.bytesToLoad).toBeLessThan(statSync(lrm).size); // the transient blocks are for fewer tiers
    expect(d.fileBytes).toBe(statSync(lrm).size);
  });

  it('prints a readable summary without --json', () => {
    const r = cliOk('inspect', lrm);
    expect(r.stdout).toMatch(/fc1/);
    expect(r.stdout).toMatch(/presets: compact \(1 tier\), balanced \(3 tiers\), full \(5 tiers\)/);
  });
});

describe('lowrank run', () => {
  it('classifies a real MNIST digit at full rank', () => {
    const r = cliJson<RunJson>('run', lrm, '--input', digit, '--json');
    expect(r.engine).toBe('ort-node-cpu');
    expect(r.tiers).toBe(5);
    expect(r.outputs.output.dims).toEqual([1, 10]);
    expect(top1(r)).toBe(digitLabel);
  });

  it('--tier K runs tier K as inspect numbers it (tiers 0..K loaded) and still gets the digit right', () => {
    const d = cliJson<InspectJson>('inspect', lrm, '--json');
    for (const k of [0, 1]) {
      const r = cliJson<RunJson>('run', lrm, '--input', digit, '--tier', String(k), '--json');
      expect(r.tiers).toBe(k + 1);
      expect(r.ranks).toEqual(d.layers.map((l) => l.rankPerTier[k]));
      expect(top1(r), `tier ${k}`).toBe(digitLabel);
    }
  });

  it('--engine ort-wasm gives the same answer as ort-node-cpu', () => {
    const cpu = cliJson<RunJson>('run', lrm, '--input', digit, '--json');
    const wasm = cliJson<RunJson>('run', lrm, '--input', digit, '--engine', 'ort-wasm', '--json');
    expect(wasm.engine).toBe('ort-wasm');
    expect(top1(wasm)).toBe(digitLabel);
    wasm.outputs.output.values.forEach((v, i) => expect(v).toBeCloseTo(cpu.outputs.output.values[i], 3));
  });

  it('--preset compact loads one tier', () => {
    const r = cliJson<RunJson>('run', lrm, '--input', digit, '--preset', 'compact', '--json');
    expect(r.tiers).toBe(1);
    expect(top1(r)).toBe(digitLabel);
  });

  it('--labels names the top classes (one name per line), in JSON and in the text output', () => {
    const names = join(tmp, 'digits.txt');
    writeFileSync(names, ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].join('\n') + '\n');
    const r = cliJson<RunJson>('run', lrm, '--input', digit, '--labels', names, '--json');
    const best = r.outputs.output.top![0];
    expect(best.index).toBe(digitLabel);
    expect(best.label).toBe(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][digitLabel]);
    expect(r.outputs.output.top!.every((t) => typeof t.label === 'string')).toBe(true);
    expect(cliOk('run', lrm, '--input', digit, '--labels', names, '--top', '2').stdout).toMatch(new RegExp(`top-2: #${digitLabel} ${best.label} \\(`));
  });

  it('--labels with a class count that no output has is a one-line error', () => {
    const synsets = join(DATA, 'labels', 'synset.txt');
    // A 1000-score output is needed: a file with mnist's 10 classes but imagenet's names would be a wrong file.
    const r = cli('run', lrm, '--input', digit, '--labels', synsets);
    expectOneLineError(r);
    expect(r.stderr).toMatch(/--labels .*synset\.txt names 1000 classes, but no \[1, 1000\] class-score output has that many \(outputs: output \[1,10\]\)/);
  });

  it('--preset nope fails with one line listing the presets', () => {
    const r = cli('run', lrm, '--input', digit, '--preset', 'nope');
    expectOneLineError(r);
    expect(r.stderr).toMatch(/nope/);
    expect(r.stderr).toMatch(/compact/);
    expect(r.stderr).toMatch(/balanced/);
    expect(r.stderr).toMatch(/full/);
  });
});

describe('lowrank eval', () => {
  it('measures every tier against the original on MNIST', () => {
    const r = cliOk(
      'eval', lrm, '--data', `mnist:${MNIST_DIR}`, '--reference', MNIST_CNN,
      '--all-tiers', '--mean', '0.5', '--std', '0.5', '--limit', '300', '--json',
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const e = JSON.parse(r.stdout) as EvalJson;
    expect(e.samples).toBe(300);
    expect(e.reference).not.toBeNull();
    const ref = e.reference!;
    expect(ref.params).toBe(MNIST_CNN_PARAMS);
    expect(ref.bytes).toBe(statSync(MNIST_CNN).size);
    expect(ref.accuracy).toBeGreaterThanOrEqual(95); // 99.06% on the full t10k set
    expect(ref.accuracy).toBeLessThanOrEqual(100);
    expect(Number.isFinite(ref.latencyMsP50) && ref.latencyMsP50 >= 0).toBe(true);

    expect(e.tiers.map((t) => t.tier)).toEqual([0, 1, 2, 3, 4]);
    for (const t of e.tiers) {
      for (const v of [t.accuracy, t.agreement]) {
        expect(typeof v).toBe('number');
        expect(v!).toBeGreaterThanOrEqual(0);
        expect(v!).toBeLessThanOrEqual(100);
      }
      expect(t.params).toBeGreaterThan(0);
      expect(t.bytes).toBeGreaterThan(0);
      expect(Number.isFinite(t.latencyMsP50) && t.latencyMsP50 >= 0).toBe(true);
    }
    e.tiers.slice(1).forEach((t, i) => expect(t.bytes).toBeGreaterThan(e.tiers[i].bytes));
    const full = e.tiers.at(-1)!;
    expect(full.agreement).toBe(100);
    expect(full.accuracy).toBe(ref.accuracy);
    expect(full.params).toBe(MNIST_CNN_PARAMS);
    expect(full.bytes).toBeLessThanOrEqual(1.02 * statSync(MNIST_CNN).size);
  });

  it('--precision fp16 evaluates the tiers as float16 graphs: the same classes, scores a little off', () => {
    const data = ['--data', `mnist:${MNIST_DIR}`, '--reference', MNIST_CNN, '--mean', '0.5', '--std', '0.5', '--limit', '300', '--json'];
    const [fp32, fp16] = [cliJson<EvalJson & { tiers: Array<{ scoreError: number }> }>('eval', lrm, ...data), cliJson<EvalJson & { tiers: Array<{ scoreError: number }> }>('eval', lrm, ...data, '--precision', 'fp16')];
    expect(fp32.tiers[0].scoreError).toBeLessThan(1e-10);
    expect(fp16.tiers[0].scoreError).toBeGreaterThan(1e-10);
    expect(fp16.tiers[0].scoreError).toBeLessThan(1e-4);
    expect(fp16.tiers[0].agreement).toBeGreaterThanOrEqual(99);
    const bad = cli('eval', lrm, ...data, '--precision', 'fp8');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/fp8.*auto, fp32, fp16/s);
  });

  it('--preset NAME evaluates the tiers the preset loads, as run --preset does', () => {
    const data = ['--data', `mnist:${MNIST_DIR}`, '--mean', '0.5', '--std', '0.5', '--limit', '100'];
    const compact = cliJson<EvalJson & { preset?: string }>('eval', lrm, ...data, '--preset', 'compact', '--json');
    expect(compact.preset).toBe('compact');
    expect(compact.tiers.map((t) => t.tier)).toEqual([0]);
    const tier0 = cliJson<EvalJson & { preset?: string }>('eval', lrm, ...data, '--tier', '0', '--json');
    expect(tier0.preset).toBeUndefined();
    expect(compact.tiers[0].accuracy).toBe(tier0.tiers[0].accuracy);
    expect(cliOk('eval', lrm, ...data, '--preset', 'balanced').stdout).toMatch(/samples, engine ort-node-cpu, preset balanced \(tier 2\)/);
    const unknown = cli('eval', lrm, ...data, '--preset', 'nope');
    expectOneLineError(unknown);
    expect(unknown.stderr).toMatch(/no preset "nope"; it has: compact, balanced, full/);
    const both = cli('eval', lrm, ...data, '--preset', 'compact', '--tier', '1');
    expectOneLineError(both);
    expect(both.stderr).toMatch(/give one of --all-tiers, --tier and --preset, not --tier and --preset/);
  });

  it('evaluates an .onnx alone (reference only) on the ImageNet sample', () => {
    const e = cliJson<EvalJson>('eval', MOBILENET, '--data', `imagenet:${IMAGENET_DIR}`, '--mean', '0.5', '--std', '0.5', '--limit', '20', '--json');
    expect(e.samples).toBe(20);
    expect(e.tiers).toEqual([]);
    expect(e.reference!.params).toBe(2_577_406);
    expect(e.reference!.bytes).toBe(statSync(MOBILENET).size);
    // About 84-86% on this sample; 20 images leave room for a few misses but not for a broken pipeline.
    expect(e.reference!.accuracy).toBeGreaterThanOrEqual(60);
    expect(e.reference!.accuracy).toBeLessThanOrEqual(100);
  });

  it('eval --size HxW: a model with a symbolic height and width evaluates (MobileNet with its input made [N,3,H,W])', () => {
    // The same weights and graph, only the input's spatial dims named: at 224×224 it decides exactly as the original.
    const model = onnx.ModelProto.decode(readFileSync(MOBILENET));
    const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
    dims[2] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'H' });
    dims[3] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'W' });
    const symbolic = join(tmp, 'mobilenet-symbolic-hw.onnx');
    writeFileSync(symbolic, onnx.ModelProto.encode(model).finish());
    const pre = ['--mean', '0.5', '--std', '0.5', '--limit', '8'];
    const refused = cli('eval', symbolic, '--data', `images:${IMAGENET_DIR}`, ...pre);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/symbolic height or width; give the size to resize images to with --size HxW/);
    const labelled = ['--data', `imagenet:${IMAGENET_DIR}`, ...pre, '--json'];
    const e = cliJson<EvalJson>('eval', symbolic, ...labelled, '--size', '224x224');
    const original = cliJson<EvalJson>('eval', MOBILENET, ...labelled);
    expect(e.samples).toBe(8);
    expect(e.reference!.accuracy).toBe(original.reference!.accuracy);
    expect(e.reference!.accuracy).toBeGreaterThan(0);
    expect(cli('eval', symbolic, ...labelled, '--size', '224by224').stderr).toMatch(/--size must be HEIGHTxWIDTH in pixels, e\.g\. 48x320; got "224by224"/);
  });

  it('an int8 model compiles with 0 factored layers, keeps its quantised nodes, and runs like the original (also with --dtype int4)', () => {
    const out = join(tmp, 'shufflenet-int8.lrm');
    // --dtype int4 must not re-quantise or dequantise the model's own int8 weights: nothing of it is touched.
    const c = cliOk('compile', SHUFFLENET_INT8, '-o', out, '--dtype', 'int4');
    expect(c.stdout).toMatch(/int4: no float32 Conv\/MatMul\/Gemm weight or Gather table to quantise \(weights already quantised in the model are kept as they are\)/);
    expect(cliJson<{ denseStorage: Record<string, number> }>('inspect', out, '--json').denseStorage).not.toHaveProperty('int4');
    expect(c.stdout).toMatch(/^0 factored layer\(s\)/m);
    expect(c.stdout).toMatch(/quantised node\(s\) are kept/);
    const e = cliJson<EvalJson>('eval', out, '--data', `imagenet:${IMAGENET_DIR}`, '--reference', SHUFFLENET_INT8, '--limit', '10', '--json');
    expect(e.samples).toBe(10);
    expect(e.tiers).toHaveLength(1);
    expect(e.tiers[0].agreement).toBe(100);
    expect(e.tiers[0].accuracy).toBe(e.reference!.accuracy);
  });
});

/** Non-zero exit, exactly one line on stderr starting "lowrank: error:", no stack trace anywhere. */
function expectOneLineError(r: CliResult): void {
  expect(r.status, `stdout: ${r.stdout}`).not.toBe(0);
  expect(r.status).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^lowrank: error: \S/);
  for (const text of [r.stderr, r.stdout]) expect(text).not.toMatch(/^\s+at .+[(:]\d+/m);
}

describe('errors are one line, with no stack trace', () => {
  let truncated: string;
  it('inspect of a re-hashed header with a pooling kernel larger than its input: one line, exit 1, before any engine', async () => {
    const { header } = await readLrm(readFileSync(lrm));
    const bytes = new Uint8Array(readFileSync(lrm));
    const h = structuredClone(header);
    const pool = h.graph.nodes.filter((n) => n.opType === 'MaxPool').at(-1)!;
    Object.assign(pool.attributes.find((a) => a.name === 'kernel_shape')!, { kind: 'ints', value: [19n, 19n] });
    const hostile = join(tmp, 'hostile.lrm');
    writeFileSync(hostile, await writeLrm(h, bytes.subarray(bytes.length - header.payloadLength)));
    const r = cli('inspect', hostile);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/hostile\.lrm has an invalid header: node \d+ \(".*", MaxPool\) has a 19×19 kernel .* larger than its \d+×\d+ input/);
  });
  beforeAll(() => {
    const bytes = readFileSync(lrm);
    truncated = join(tmp, 'truncated.lrm');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  });

  const compileCases: Array<[string, () => string[], RegExp]> = [
    ['an opset-1 model onnxruntime cannot load', () => [LEGACY_OPSET1], /onnxruntime/],
    ['a missing input file', () => [join(tmp, 'missing.onnx')], /missing\.onnx/],
    ['a file that is not ONNX (package.json)', () => ['package.json'], /package\.json.*ONNX/],
    ['--tiers 0.5,0.2 (not increasing)', () => [MNIST_CNN, '--tiers', '0.5,0.2'], /--tiers/],
    ['--dtype int3', () => [MNIST_CNN, '--dtype', 'int3'], /--dtype must be fp32, fp16, int8 or int4, not "int3"/],
    ['--tiers 0.5,1:8 without int4', () => [MNIST_CNN, '--tiers', '0.5,1:8'], /a 4- or 8-bit tier \(budget:4, budget:8\) refines int3 and int4 matrices; it needs --dtype int4, not fp32/],
    ['--tiers 0.5:8,1 (bits going down)', () => [MNIST_CNN, '--dtype', 'int4', '--tiers', '0.5:8,1'], /bits never go down the ladder/],
    ['--group-size 0', () => [MNIST_CNN, '--dtype', 'int4', '--group-size', '0'], /--group-size must be a whole number ≥ 1, got "0"/],
    ['--int4-max-error -1', () => [MNIST_CNN, '--dtype', 'int4', '--int4-max-error', '-1'], /--int4-max-error must be a number ≥ 0/],
    ['--min-bits 3 without --calib', () => [MNIST_CNN, '--dtype', 'int4', '--min-bits', '3'], /--min-bits 3 needs --calib/],
    ['--mid-weight -1', () => [MNIST_CNN, '--dtype', 'int4', '--mid-weight', '-1'], /--mid-weight must be a number ≥ 0/],
    ['a 4-bit tier without int3', () => [MNIST_CNN, '--dtype', 'int4', '--tiers', '1,1:4'], /a 4-bit tier \(budget:4\) takes int3 weights to 4 bits; it needs --min-bits 3/],
    ['--dtype int4 --refit', () => [MNIST_CNN, '--dtype', 'int4', '--refit', '--calib', `mnist:${MNIST_DIR}`, '--calib-limit', '16'], /--refit does not write int4 files yet/],
    ['--refit without --calib', () => [MNIST_CNN, '--refit'], /--refit needs --calib/],
    ['--refit cubic', () => [MNIST_CNN, '--refit', 'cubic'], /--refit takes nonlinear or linear, got "cubic"/],
    ['--sensitivity-max-gmac -1', () => [MNIST_CNN, '--sensitivity-max-gmac', '-1'], /--sensitivity-max-gmac must be a number ≥ 0, got "-1"/],
    ['--distill-train everything', () => [MNIST_CNN, '--distill', `mnist:${MNIST_DIR}`, '--distill-train', 'everything'], /--distill-train must be cores or factors/],
    ['--engine ort-node-cpu for distillation', () => [MNIST_CNN, '--distill', `mnist:${MNIST_DIR}`, '--engine', 'ort-node-cpu'], /--engine must be one of tfjs-wasm, tfjs-cpu, tfjs-webgpu/],
    ['--distill-features some', () => [MNIST_CNN, '--distill', `mnist:${MNIST_DIR}`, '--distill-features', 'some'], /--distill-features must be none, last or all/],
    ['--distill-feature-weight -1', () => [MNIST_CNN, '--distill', `mnist:${MNIST_DIR}`, '--distill-feature-weight', '-1'], /--distill-feature-weight must be a number ≥ 0/],
    ['--distill-tiers 7 (no such tier)', () => [MNIST_CNN, '--distill', `mnist:${MNIST_DIR}`, '--distill-limit', '16', '--steps', '1', '--tiers', '0.1,1', '--distill-tiers', '7'], /tier 7 does not exist/],
  ];
  it.each(compileCases)('compile of %s fails and leaves no output file', (_, args, message) => {
    const out = join(tmp, 'failed-compile.lrm');
    const r = cli('compile', ...args(), '-o', out);
    expectOneLineError(r);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
  });

  // Commander's own checks: one line with where to look, exit code 2 (1 is for failures while running), no usage dump.
  const usageCases: Array<[string, () => string[], RegExp]> = [
    ['compile without -o', () => ['compile', MNIST_CNN], /^lowrank: error: required option '-o, --output <model\.lrm>' not specified \(see lowrank compile --help\)$/],
    ['compile without the model', () => ['compile', '-o', join(tmp, 'usage.lrm')], /^lowrank: error: missing required argument 'model\.onnx' \(see lowrank compile --help\)$/],
    ['compile with an unknown option', () => ['compile', MNIST_CNN, '-o', join(tmp, 'usage.lrm'), '--tire', '0.5,1'], /^lowrank: error: unknown option '--tire' \(did you mean one of --size, --tiers\?\) \(see lowrank compile --help\)$/],
    ['compile --allocate fast (not a choice)', () => ['compile', MNIST_CNN, '-o', join(tmp, 'usage.lrm'), '--allocate', 'fast'], /^lowrank: error: option '--allocate <how>' argument 'fast' is invalid\. Allowed choices are sigma, sensitivity \(see lowrank compile --help\)$/],
    ['run --top without its value', () => ['run', lrm, '--input', digit, '--top'], /^lowrank: error: option '--top <k>' argument missing \(see lowrank run --help\)$/],
    ['eval without --data', () => ['eval', lrm], /^lowrank: error: required option '--data <spec>' not specified \(see lowrank eval --help\)$/],
    ['inspect with two files', () => ['inspect', lrm, lrm], /^lowrank: error: too many arguments for 'inspect'\. Expected 1 argument but got 2 \(see lowrank inspect --help\)$/],
    ['an unknown command', () => ['compil', MNIST_CNN], /^lowrank: error: unknown command 'compil' \(did you mean compile\?\) \(see lowrank --help\)$/],
  ];
  it.each(usageCases)('usage mistake: %s is one line, exit code 2', (_, args, message) => {
    const r = cli(...args());
    expectOneLineError(r);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr + r.stdout).not.toMatch(/Usage:/);
    expect(existsSync(join(tmp, 'usage.lrm'))).toBe(false);
  });

  it('--help and --version still print and exit 0', () => {
    expect(cliOk('compile', '--help').stdout).toMatch(/^Usage: lowrank compile \[options\] <model\.onnx>/);
    expect(cliOk('--version').stdout.trim()).toMatch(/^\S+ \d+\.\d+\.\d+/);
  });

  it('compile --distill says what it trained and the held-out loss per tier', () => {
    const out = join(tmp, 'distilled.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--tiers', '0.1,1', '--mean', '0.5', '--std', '0.5', '--distill', `mnist:${MNIST_DIR}`, '--distill-limit', '64', '--steps', '4', '--distill-batch', '16');
    expect(r.stdout).toMatch(/distilled on tfjs-wasm: 4 steps in [\d.]+ s, [\d,]+ trained parameters, 58 training \+ 6 held-out samples/);
    expect(r.stdout).toMatch(/held-out kl loss, kept step \d+: tier 0 [\d.]+ → [\d.]+, tier 1 /);
    expect(existsSync(out)).toBe(true);

    // eval --before: the same tiers compiled without distillation, evaluated beside it on the same digits.
    const base = join(tmp, 'undistilled.lrm');
    cliOk('compile', MNIST_CNN, '-o', base, '--tiers', '0.1,1');
    const data = ['--data', `mnist:${MNIST_DIR}`, '--offset', '1000', '--limit', '200', '--mean', '0.5', '--std', '0.5'];
    const result = cliJson<{ tiers: Array<{ tier: number; accuracy: number; before: number }> }>('eval', out, ...data, '--all-tiers', '--before', base, '--json');
    expect(result.tiers.map((t) => t.tier)).toEqual([0, 1]);
    for (const t of result.tiers) expect(t.before).toBeGreaterThan(50);
    const other = cli('eval', out, ...data, '--before', lrm);
    expectOneLineError(other);
    expect(other.stderr).toMatch(/compile both with the same --tiers/);
  });

  it('compile --distill-features says how many intermediate features it matched', () => {
    const out = join(tmp, 'features.lrm');
    const r = cliOk('compile', MNIST_CNN, '-o', out, '--tiers', '0.1,1', '--mean', '0.5', '--std', '0.5', '--distill', `mnist:${MNIST_DIR}`, '--distill-limit', '32', '--steps', '2', '--distill-features', 'all', '--distill-feature-weight', '0.5');
    expect(r.stdout).toMatch(/held-out kl loss \+ features \(2\), kept step \d+: tier 0 /);
  });

  it('compile --distill stopped by Ctrl-C writes the best checkpoint and exits 0', async () => {
    const out = join(tmp, 'interrupted.lrm');
    const child = spawn(process.execPath, [join(ROOT, 'bin/lowrank.js'), 'compile', MNIST_CNN, '-o', out, '--tiers', '0.1,1', '--mean', '0.5', '--std', '0.5', '--distill', `mnist:${MNIST_DIR}`, '--distill-limit', '64', '--steps', '1000000'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const status = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise((r) => setTimeout(r, 4000));
    child.kill('SIGINT');
    expect(await status, stderr).toBe(0);
    expect(stderr).toMatch(/stopping distillation after this step/);
    expect(stdout).toMatch(/steps \(stopped early\)/);
    expect(existsSync(out)).toBe(true);
  });

  // The output path is an existing directory: the rename fails and the temporary file must go too.
  it('compile whose final rename fails leaves no temp file behind', () => {
    const dir = mkdtempSync(join(tmp, 'rename-'));
    const out = join(dir, 'model.lrm');
    mkdirSync(out);
    const r = cli('compile', MNIST_CNN, '-o', out);
    expectOneLineError(r);
    expect(readdirSync(dir)).toEqual(['model.lrm']);
  });

  // `--tier` is a tier index: the message must speak in indices (0..4), not in tier counts.
  it('run --tier past the last tier names the value given and the valid tier range', () => {
    const r = cli('run', lrm, '--input', digit, '--tier', '5');
    expectOneLineError(r);
    expect(r.stderr).not.toMatch(/got 6/);
    expect(r.stderr).toMatch(/\b4\b/);
  });

  it('inspect of an .onnx file', () => {
    const r = cli('inspect', MNIST_CNN);
    expectOneLineError(r);
    expect(r.stderr).toMatch(/not a \.lrm/);
  });

  it('inspect of a truncated .lrm', () => {
    const r = cli('inspect', truncated);
    expectOneLineError(r);
    expect(r.stderr).toMatch(/truncated/);
  });

  it('run with a missing --input file', () => {
    const r = cli('run', lrm, '--input', join(tmp, 'no-such-input.npy'));
    expectOneLineError(r);
    expect(r.stderr).toMatch(/no-such-input\.npy/);
  });

  it('eval with an unknown data scheme', () => {
    const r = cli('eval', lrm, '--data', 'nope:dir');
    expectOneLineError(r);
    expect(r.stderr).toMatch(/nope/);
    expect(r.stderr).toMatch(/mnist:/);
  });

  it('eval with a data directory that does not exist', () => {
    const r = cli('eval', lrm, '--data', `mnist:${join(tmp, 'no-such-dir')}`);
    expectOneLineError(r);
    expect(r.stderr).toMatch(/no-such-dir/);
  });
});
