import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantizeInt8, int8Scales, INT8_LIMIT, quantizeFactors, quantizeInt8, symmetricScale, type ScaleAxis } from '../../compiler/quantize.js';

/** A rows×cols matrix of finite doubles; some rows/columns all zero, magnitudes spread over many decades. */
const matrix = fc
  .record({ rows: fc.integer({ min: 1, max: 7 }), cols: fc.integer({ min: 1, max: 7 }), exponent: fc.integer({ min: -30, max: 30 }) })
  .chain(({ rows, cols, exponent }) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      values: fc.array(
        fc.oneof(fc.double({ min: -1, max: 1, noNaN: true }).map((v) => v * 2 ** exponent), fc.constant(0), fc.float({ noNaN: true, noDefaultInfinity: true })),
        { minLength: rows * cols, maxLength: rows * cols },
      ),
      zeroLine: fc.option(fc.nat(), { nil: undefined }),
      axis: fc.constantFrom<ScaleAxis>(0, 1),
    }),
  );

describe('symmetricScale', () => {
  it('is the smallest float32 ≥ maxabs/127', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e38, noNaN: true }), (maxAbs) => {
        const s = symmetricScale(maxAbs);
        expect(Math.fround(s)).toBe(s);
        expect(s * INT8_LIMIT).toBeGreaterThanOrEqual(maxAbs);
        // The float32 just below is too small (or there is none: s is 0 or the smallest subnormal).
        const below = new Float32Array([s]);
        new Uint32Array(below.buffer)[0] -= 1;
        if (s > 2 ** -149) expect(below[0] * INT8_LIMIT).toBeLessThan(maxAbs);
      }),
      { numRuns: 2000 },
    );
  });

  it('guards zero, subnormal and bad inputs', () => {
    expect(symmetricScale(0)).toBe(0);
    expect(symmetricScale(1e-45)).toBe(2 ** -149);
    expect(symmetricScale(127)).toBe(1);
    expect(() => symmetricScale(-1)).toThrow(RangeError);
    expect(() => symmetricScale(NaN)).toThrow(RangeError);
    expect(() => symmetricScale(1e300)).toThrow(RangeError);
  });
});

describe('int8 quantise / dequantise', () => {
  it('dequantise(quantise(x)) is within scale/2 of x per element, |q| ≤ 127, scales ≥ 0', () => {
    fc.assert(
      fc.property(matrix, ({ rows, cols, values, zeroLine, axis }) => {
        const x = values.slice();
        if (zeroLine !== undefined) {
          const k = zeroLine % (axis === 0 ? rows : cols);
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if ((axis === 0 ? r : c) === k) x[r * cols + c] = 0;
        }
        const scales = int8Scales(x, rows, cols, axis);
        const q = quantizeInt8(x, rows, cols, scales, axis);
        const back = dequantizeInt8(q, rows, cols, scales, axis);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const i = r * cols + c;
            const s = scales[axis === 0 ? r : c];
            expect(s).toBeGreaterThanOrEqual(0);
            expect(Math.abs(q[i])).toBeLessThanOrEqual(INT8_LIMIT);
            // q·s is exact in float64; x/s carries one rounding, hence the 2^-40 relative slack.
            expect(Math.abs(x[i] - q[i] * s)).toBeLessThanOrEqual((s / 2) * (1 + 2 ** -40));
            // dequantise only rounds that exact product to float32.
            expect(back[i]).toBe(Math.fround(q[i] * s));
            if (s === 0) expect(x[i] === 0).toBe(true);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('is symmetric, uses ±127 for the largest magnitude of every line, and gives zero lines scale 0', () => {
    const x = [0.25, -1, 0, 0, 2, -2];
    const scales = int8Scales(x, 3, 2, 0);
    expect(scales[1]).toBe(0);
    const q = quantizeInt8(x, 3, 2, scales, 0);
    expect(Array.from(q)).toEqual([32, -127, 0, 0, 127, -127]);
    const neg = quantizeInt8(x.map((v) => -v), 3, 2, scales, 0);
    expect(Array.from(neg)).toEqual(Array.from(q, (v) => -v || 0));
  });

  it('refuses non-finite values and wrong shapes', () => {
    expect(() => int8Scales([1, NaN], 1, 2, 0)).toThrow(RangeError);
    expect(() => quantizeInt8([Infinity], 1, 1, [1], 0)).toThrow(RangeError);
    expect(() => int8Scales([1, 2, 3], 2, 2, 0)).toThrow(RangeError);
    expect(() => quantizeInt8([1, 2], 1, 2, [1], 1)).toThrow(RangeError);
    expect(() => dequantizeInt8(new Int8Array(4), 2, 2, [1], 0)).toThrow(RangeError);
  });
});

describe('quantizeFactors', () => {
  it('scales A per output over all stored components and B per component; every rank prefix is the same slice', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (rows, cols, rank, seed) => {
          let state = seed;
          const rand = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 30 - 1) * 3;
          // Factors hold more components than are stored: only the first `rank` count.
          const left = Float64Array.from({ length: (rank + 1) * rows }, rand);
          const right = Float64Array.from({ length: (rank + 1) * cols }, rand);
          const q = quantizeFactors(left, right, rank, rows, cols);
          expect(q.left.length).toBe(rank * rows);
          expect(q.right.length).toBe(rank * cols);
          expect(q.leftScales.length).toBe(rows);
          expect(q.rightScales.length).toBe(rank);
          for (let j = 0; j < rows; j++) {
            let maxAbs = 0;
            for (let i = 0; i < rank; i++) maxAbs = Math.max(maxAbs, Math.abs(left[i * rows + j]));
            expect(q.leftScales[j]).toBe(symmetricScale(maxAbs));
          }
          for (let i = 0; i < rank; i++) {
            expect(q.rightScales[i]).toBe(symmetricScale(Math.max(...right.subarray(i * cols, (i + 1) * cols).map(Math.abs))));
          }
          // A prefix of k components is the first k rows of each side with the same scales: no re-quantisation.
          const a = dequantizeInt8(q.left, rank, rows, q.leftScales, 1);
          for (let i = 0; i < rank * rows; i++) expect(Math.abs(a[i] - left[i])).toBeLessThanOrEqual(q.leftScales[i % rows] / 2 + Math.abs(left[i]) * 2 ** -23);
        },
      ),
      { numRuns: 300 },
    );
  });
});
