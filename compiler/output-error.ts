/**
 * What "the network's output moved" means to the rank allocation (compiler/sensitivity.ts): a number comparing a
 * changed model's outputs on the calibration samples with the original's.
 *
 * squared: the squared error of every output relative to that output's energy, summed over outputs. Right for
 * class scores, detector maps, audio: whatever consumes the values themselves.
 *
 * similarity: for sentence (or image) encoders, whose users compare embeddings by cosine (search, STS scores).
 * Every sample's embedding is compared with every other's, and the error is that of these pairwise cosines,
 * relative to their spread around their mean. Measured on USE-lite (STS-B dev, Pearson ×100 of the original
 * 78.26), a truncated layer can move the embeddings far (cosine 0.85 to the original's) and leave the similarities
 * alone (−0.06 Pearson), and a least-squares fit that brings the vectors closer (cosine 0.63 → 0.76) loses Pearson
 * (73.4 → 72.0): squared error ranks layers by what the scores do not use. Ranks allocated by this measure gave
 * the 35% tier 74.24 instead of 73.37, and 75.91 vs 75.00 once distilled; not a win everywhere: the int4 file's 0.5
 * and 0.75 tiers lost 0.2–0.4 by it (docs/measured.md).
 */
export type OutputMeasure = 'squared' | 'similarity';

/** One model's outputs on one sample (one batch of feeds), in the model's output order. */
export interface SampleOutputs {
  data: Float32Array[];
  dims: number[][];
}

/** The measure with the reference outputs prepared once: call it with a changed model's outputs on the same samples. */
export function outputError(measure: OutputMeasure, reference: readonly SampleOutputs[]): (outputs: readonly SampleOutputs[]) => number {
  return measure === 'similarity' ? similarityError(reference) : squaredError(reference);
}

function squaredError(reference: readonly SampleOutputs[]): (outputs: readonly SampleOutputs[]) => number {
  // Each output's energy separately: a model with logits and probabilities weighs both, not just the larger.
  const energy = reference[0]?.data.map((_, k) => reference.reduce((s, r) => s + sumOfSquares(r.data[k]!), 0) || 1) ?? [];
  return (outputs) => {
    let err = 0;
    outputs.forEach((o, s) =>
      o.data.forEach((values, k) => {
        const ref = reference[s]!.data[k]!;
        for (let j = 0; j < values.length; j++) err += (values[j]! - ref[j]!) ** 2 / energy[k]!;
      }),
    );
    return err;
  };
}

function similarityError(reference: readonly SampleOutputs[]): (outputs: readonly SampleOutputs[]) => number {
  const target = pairwiseCosines(unitRows(reference));
  let mean = 0;
  for (const c of target) mean += c / target.length;
  let spread = 0;
  for (const c of target) spread += (c - mean) ** 2;
  return (outputs) => {
    const got = pairwiseCosines(unitRows(outputs));
    let err = 0;
    for (let i = 0; i < got.length; i++) err += (got[i]! - target[i]!) ** 2;
    return err / (spread || 1);
  };
}

/** The rows of every sample's first output ([rows, d]: one embedding per row), scaled to unit length. */
function unitRows(samples: readonly SampleOutputs[]): Float64Array[] {
  return samples.flatMap(({ data, dims }) => {
    const values = data[0]!;
    const rows = dims[0]?.[0] || 1;
    const d = values.length / rows;
    return Array.from({ length: rows }, (_, i) => {
      const row = Float64Array.from(values.subarray(i * d, (i + 1) * d));
      const norm = Math.sqrt(sumOfSquares(row)) || 1;
      return row.map((v) => v / norm);
    });
  });
}

/** Cosines of every pair i < j of unit rows, in a fixed order. */
function pairwiseCosines(rows: readonly Float64Array[]): Float64Array {
  const out = new Float64Array((rows.length * (rows.length - 1)) / 2);
  let k = 0;
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      const [a, b] = [rows[i]!, rows[j]!];
      let dot = 0;
      for (let t = 0; t < a.length; t++) dot += a[t]! * b[t]!;
      out[k++] = dot;
    }
  }
  return out;
}

function sumOfSquares(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * values[i]!;
  return s;
}
