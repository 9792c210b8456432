/**
 * `lowrank compile | inspect` on models that import normalisation rewrites (compiler/import/normalise.ts): compile
 * lists what it changed, inspect shows it from the file's header (text and --json), a cycle fails in one line and
 * writes nothing, and a model with nothing to factor says what qualifies and what it has instead.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reversedWithDeadCode, withCycle } from '../compiler/mnist-variants.js';
import { cli, cliJson, cliOk, MNIST_CNN, MODELS } from './helpers.js';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lowrank-normalise-'));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const mnist = () => new Uint8Array(readFileSync(MNIST_CNN));

describe('lowrank compile and inspect on models that need normalising', () => {
  it('compile lists what was normalised, and inspect shows it (text and --json)', () => {
    const onnx = join(tmp, 'reversed.onnx');
    const lrm = join(tmp, 'reversed.lrm');
    writeFileSync(onnx, reversedWithDeadCode(mnist()));
    const compiled = cliOk('compile', onnx, '-o', lrm, '--tiers', '0.5,1');
    const line = /^normalised: nodes sorted \(\d+ moved\); 1 dead node dropped; 1 unused initializer dropped$/m;
    expect(compiled.stdout).toMatch(line);
    expect(compiled.stdout).toMatch(/^2 factored layer\(s\)/m);
    expect(cliOk('inspect', lrm).stdout).toMatch(line);
    const json = cliJson<{ source: { normalised?: string[] } }>('inspect', lrm, '--json');
    expect(json.source.normalised).toEqual([expect.stringMatching(/^nodes sorted \(\d+ moved\)$/), '1 dead node dropped', '1 unused initializer dropped']);
  });

  it('a clean model prints no normalised line, and inspect --json has no list', () => {
    const lrm = join(tmp, 'clean.lrm');
    expect(cliOk('compile', MNIST_CNN, '-o', lrm, '--tiers', '1').stdout).not.toMatch(/normalised:/);
    expect(cliOk('inspect', lrm).stdout).not.toMatch(/normalised:/);
    expect(cliJson<{ source: { normalised?: string[] } }>('inspect', lrm, '--json').source.normalised).toBeUndefined();
  });

  it('a cycle fails in one line that names its nodes, and writes nothing', () => {
    const onnx = join(tmp, 'cycle.onnx');
    const lrm = join(tmp, 'cycle.lrm');
    writeFileSync(onnx, withCycle(mnist()));
    const r = cli('compile', onnx, '-o', lrm);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^lowrank: error: cycle\.onnx has a cycle in its graph: .* the source model is invalid: fix its export .*$/);
    for (const node of ['/conv1/Conv', '/pool_1/MaxPool']) expect(lines[0]).toContain(`"${node}"`);
    expect(existsSync(lrm)).toBe(false);
  });

  it('nothing to factor: the note says what qualifies and what the model has', () => {
    const r = cliOk('compile', join(MODELS, 'mnist-mlp-784-128-64-10.onnx'), '-o', join(tmp, 'mlp.lrm'), '--min-params', '1000000');
    expect(r.stdout).toMatch(/^0 factored layer\(s\)/m);
    expect(r.stdout).toMatch(/^note: no layer could be factored: a layer qualifies when it is a MatMul, Gemm or group-1 Conv whose weight is a float constant .* of at least 1000000 values, read by that node alone; seen: 3 MatMul: fewer than 1000000 weights \(--min-params\)$/m);
  });
});
