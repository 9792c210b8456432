/**
 * Deterministic compile (issue 15): the same inputs and options give the same .lrm bytes whatever the machine's
 * load, because no decision reads a clock. The default calibrated compile used to time one reference run and fall
 * back to σ² order when the estimate passed 120 s, so a loaded machine wrote another file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileOnnx, type CompileResult } from '../../compiler/compile.js';
import { feedBatches, openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { decideSensitivity, DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, type SensitivityCost } from '../../compiler/sensitivity-limit.js';
import { DATA, MODELS } from '../e2e/real-inputs.js';

const source = new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx')));

/** `lowrank compile mnist-cnn-pytorch.onnx --calib mnist:… --calib-limit 64 --mean 0.5 --std 0.5`: default allocation. */
async function compileCalibrated(): Promise<CompileResult> {
  const inputs = importOnnx(source).inputs;
  const data = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: inputs[0].shape, mean: [0.5], std: [0.5], limit: 64 });
  return compileOnnx(source, { calibration: () => feedBatches(data, inputs, 32), calibrationSize: data.size });
}

/** Busy-loops `count` worker threads (one per core of the build machine) until stopped. */
function busyLoops(count: number): { stop: () => Promise<void> } {
  const workers = Array.from({ length: count }, () => new Worker('for (;;) {}', { eval: true }));
  return { stop: async () => void (await Promise.all(workers.map((w) => w.terminate()))) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the sensitivity decision counts work, it does not time it', () => {
  const cost = (multiplyAdds: number): SensitivityCost => ({ runs: 11, samples: 64, multiplyAddsPerSample: multiplyAdds / 704, multiplyAdds });

  it('measures within the limit, falls back to σ² over it with a note naming the options, measures when asked', () => {
    expect(decideSensitivity(cost(DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS), DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, false)).toEqual({ measure: true });
    const over = decideSensitivity(cost(65e12), DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, false);
    expect(over.measure).toBe(false);
    expect(over.note).toBe('sensitivity not measured: ≈65,000 G multiply-adds (11 model runs × 64 samples × 92300 M), over the limit of 4,000 G; ranks ordered by σ² share (--allocate sensitivity measures it anyway, --sensitivity-max-gmac raises the limit)');
    const asked = decideSensitivity(cost(65e12), DEFAULT_SENSITIVITY_MAX_MULTIPLY_ADDS, true);
    expect(asked.measure).toBe(true);
    expect(asked.note).toMatch(/^measuring sensitivity as asked \(--allocate sensitivity\): ≈65,000 G multiply-adds .*over the limit of 4,000 G/);
  });

  // The old rule timed the reference run with performance.now(): a clock that says every call took 1,000 s made
  // its estimate far over 120 s, and the compile fell back to σ² order. Now the clock cannot change the file.
  it('a clock that says the machine is very slow changes nothing', async () => {
    const normal = await compileCalibrated();
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1e6));
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 1e6));
    const slow = await compileCalibrated();
    expect(slow.allocation).toEqual({ method: 'sensitivity', measure: 'squared' });
    expect(Buffer.from(slow.lrm).equals(Buffer.from(normal.lrm))).toBe(true);
  });
});

describe('compile under load', () => {
  it('mnist-cnn-pytorch, calibrated, default allocation: the same bytes with both cores busy', async () => {
    const quiet = await compileCalibrated();
    expect(quiet.allocation).toEqual({ method: 'sensitivity', measure: 'squared' });
    const load = busyLoops(2);
    let loaded: CompileResult;
    try {
      loaded = await compileCalibrated();
    } finally {
      await load.stop();
    }
    expect(loaded.allocation).toEqual({ method: 'sensitivity', measure: 'squared' });
    expect(loaded.lrm.length).toBe(quiet.lrm.length);
    expect(Buffer.from(loaded.lrm).equals(Buffer.from(quiet.lrm))).toBe(true);
  });
});
