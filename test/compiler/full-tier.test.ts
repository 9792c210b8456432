/**
 * The full tier is the original model: a layer that runs dense at every component stores the original weight itself
 * (not the product of its factors, equal only to rounding), so an fp32 file's full tier holds the source's float32
 * values bit for bit and an int8 file's full tier holds the very codes quantisation alone stores.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { findCandidates } from '../../compiler/factorize/candidates.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import type { DenseTensor } from '../../formats/model.js';
import { readLrm } from '../../formats/read.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
// Its two big convs are where the product of plain-SVD factors differs from the weight in float32 (289 values).
const MODEL = join(DATA, 'models/super-resolution-10.onnx');

/** Payload bytes of a range. */
function bytesOf(payload: Uint8Array, range: { offset: bigint | number; length: bigint | number }): Uint8Array {
  return payload.slice(Number(range.offset), Number(range.offset) + Number(range.length));
}

/** A quantised initializer's int8 codes as the rows × cols matrix (output channels on rows). */
function codesAsMatrix(t: DenseTensor, payload: Uint8Array, rows: number, cols: number): Int8Array {
  const q = new Int8Array(bytesOf(payload, t.range).buffer);
  if (t.scaleAxis === 0) return q;
  return Int8Array.from({ length: rows * cols }, (_, i) => q[(i % cols) * rows + Math.floor(i / cols)]); // [cols, rows] stored
}

describe('full tier', () => {
  const source = new Uint8Array(readFileSync(MODEL));
  const model = importOnnx(source);
  const candidates = findCandidates(model);

  it('of an fp32 file holds the original weights bit for bit', async () => {
    const { header, payload } = await readLrm((await compileOnnx(source, { tiers: [0.3, 1], allocation: 'sigma' })).lrm);
    const dense = header.layers.filter((l) => (l.denseTier ?? -1) >= 0);
    expect(dense.length).toBeGreaterThan(0);
    for (const layer of dense) {
      const c = candidates.find((x) => x.weight.name === layer.weight)!;
      expect(new Float32Array(bytesOf(payload, layer.dense!).buffer), layer.name).toEqual(Float32Array.from(c.matrix()));
    }
  });

  it('of an int8 file holds the codes and scales of quantisation alone', async () => {
    const ours = await readLrm((await compileOnnx(source, { dtype: 'int8', tiers: [0.3, 1], allocation: 'sigma' })).lrm);
    const alone = await readLrm((await compileOnnx(source, { dtype: 'int8', tiers: [1], minParams: Infinity })).lrm);
    const dense = ours.header.layers.filter((l) => (l.denseTier ?? -1) >= 0);
    expect(dense.length).toBeGreaterThan(0);
    for (const layer of dense) {
      const t = alone.header.graph.initializers.find((x) => x.name === layer.weight)!;
      const rows = Number(layer.rows);
      const cols = Number(layer.cols);
      expect(t.storage, layer.name).toBe('int8');
      expect(new Int8Array(bytesOf(ours.payload, layer.dense!).buffer), layer.name).toEqual(codesAsMatrix(t, alone.payload, rows, cols));
      expect(layer.denseScales, layer.name).toEqual(t.scales);
    }
  });
});
