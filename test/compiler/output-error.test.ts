import { describe, expect, it } from 'vitest';
import { outputError, type SampleOutputs } from '../../compiler/output-error.js';

/** Deterministic pseudo-random embeddings: `rows` × `d`, one sample (batch). */
function embeddings(rows: number, d: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: rows * d }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5);
}
const sample = (data: Float32Array, rows: number): SampleOutputs => ({ data: [data], dims: [[rows, data.length / rows]] });

/** Each row rotated in the plane of its first two coordinates: every vector moves, no cosine between them does. */
function rotate(data: Float32Array, d: number, angle: number): Float32Array {
  const out = Float32Array.from(data);
  for (let i = 0; i < data.length; i += d) {
    const [x, y] = [data[i]!, data[i + 1]!];
    out[i] = Math.cos(angle) * x - Math.sin(angle) * y;
    out[i + 1] = Math.sin(angle) * x + Math.cos(angle) * y;
  }
  return out;
}

describe('outputError', () => {
  const d = 16;
  const reference = [sample(embeddings(8, d, 1), 8), sample(embeddings(6, d, 2), 6)];

  it('similarity ignores what no cosine between embeddings sees (a common rotation, a rescaled row); squared does not', () => {
    const rotated = reference.map((r) => sample(rotate(r.data[0]!, d, 0.7), r.dims[0]![0]!));
    const scaled = reference.map((r, s) => sample(r.data[0]!.map((v, j) => (s === 0 && j < d ? 3 * v : v)), r.dims[0]![0]!));
    for (const changed of [rotated, scaled]) {
      expect(outputError('similarity', reference)(changed)).toBeLessThan(1e-10);
      expect(outputError('squared', reference)(changed)).toBeGreaterThan(0.01);
    }
  });

  it('similarity compares embeddings across samples and grows with the change', () => {
    const noisy = (amount: number) => reference.map((r, s) => sample(r.data[0]!.map((v, j) => v + amount * (embeddings(1, r.data[0]!.length, 7 + s)[j]!)), r.dims[0]![0]!));
    const small = outputError('similarity', reference)(noisy(0.05));
    const large = outputError('similarity', reference)(noisy(0.5));
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(10 * small);
    // Two embeddings swapped between the samples: every pair they are in now compares other sentences.
    const swapped = reference.map((r) => sample(Float32Array.from(r.data[0]!), r.dims[0]![0]!));
    const [a, b] = [swapped[0]!.data[0]!, swapped[1]!.data[0]!];
    const row = a.slice(0, d);
    a.set(b.subarray(0, d), 0);
    b.set(row, 0);
    expect(outputError('similarity', reference)(swapped)).toBeGreaterThan(0.01);
  });

  it('squared is each output relative to its own energy, summed', () => {
    const ref: SampleOutputs[] = [{ data: [Float32Array.of(3, 4), Float32Array.of(100, 0)], dims: [[1, 2], [1, 2]] }];
    const got: SampleOutputs[] = [{ data: [Float32Array.of(3, 5), Float32Array.of(110, 0)], dims: [[1, 2], [1, 2]] }];
    expect(outputError('squared', ref)(got)).toBeCloseTo(1 / 25 + 100 / 10000, 12);
  });
});
