/**
 * run() input validation (issue 16): every way an app can hand the model a wrong input is a RunInputError with a
 * one-line message naming the input and what was expected, before the engine sees it (engines would throw their own
 * untyped errors, or return NaN silently); NaN is refused unless the app allows it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import fc from 'fast-check';
import { DataType } from '../../formats/model.js';
import { checkFeeds } from '../../runtime/check-feeds.js';
import { load, RunInputError, type LrmSession } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';

const MODEL = join(import.meta.dirname, '../../../shared/data/models/mnist-cnn-pytorch.onnx');
let lrm: Uint8Array;
let session: LrmSession;
const good = (): Feeds => ({ input: { dataType: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784) } });

beforeAll(async () => {
  ({ lrm } = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { tiers: [1] }));
  session = await load(lrm);
  expect(session.inputs.map((i) => [i.name, i.shape])).toEqual([['input', ['batch_size', 1, 28, 28]]]);
}, 120_000);

afterAll(async () => session?.release());

describe('run() checks its inputs', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['null', () => null, /^run\(\) takes an object of named tensors, e\.g\. \{ input: \{ dataType, dims, data \} \}; got null$/],
    ['an unknown name', () => ({ ...good(), extra: good().input }), /^unknown model input\(s\): extra \(the model takes input\)$/],
    ['a wrong name in place of the input', () => ({ image: good().input }), /^unknown model input\(s\): image \(the model takes input\)$/],
    ['a missing input', () => ({}), /^missing model input\(s\): input \(the model takes input\)$/],
    ['a wrong dataType', () => ({ input: { ...good().input, dataType: 'int32' } }), /^input "input" is float32, got dataType "int32"$/],
    ['a Float64Array for float32', () => ({ input: { ...good().input, data: new Float64Array(784) } }), /^input "input" \(float32\) needs its data in a Float32Array, got Float64Array$/],
    ['a wrong rank', () => ({ input: { ...good().input, dims: [1, 784] } }), /^input "input" has shape \[batch_size, 1, 28, 28\], got 2 dims \[1, 784\]$/],
    ['a wrong fixed dim', () => ({ input: { ...good().input, dims: [1, 1, 27, 28] } }), /^input "input" has shape \[batch_size, 1, 28, 28\], got \[1, 1, 27, 28\] \(dim 2 must be 28\)$/],
    ['a wrong length', () => ({ input: { ...good().input, data: new Float32Array(700) } }), /^input "input" of dims \[1, 1, 28, 28\] needs 784 values, got 700$/],
    ['negative dims', () => ({ input: { ...good().input, dims: [-1, 1, 28, 28] } }), /^input "input" dims must be whole numbers ≥ 0, got \[-1,1,28,28\]$/],
    ['NaN', () => ({ input: { ...good().input, data: Float32Array.from({ length: 784 }, (_, i) => (i === 5 ? NaN : 0)) } }), /^input "input" has NaN at index 5; inputs must be finite/],
    ['-Infinity last, after large finite values', () => ({ input: { ...good().input, data: Float32Array.from({ length: 784 }, (_, i) => (i === 783 ? -Infinity : i % 2 ? 3e38 : -3e38)) } }), /^input "input" has -Infinity at index 783; inputs must be finite/],
  ];
  it.each(cases)('%s: RunInputError, one line', async (_, feeds, message) => {
    const e = await session.run(feeds() as Feeds).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(RunInputError);
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).not.toContain('\n');
  });

  it('good inputs run, any batch size; NaN passes with nonFinite: allow', async () => {
    expect((await session.run(good())).output.dims).toEqual([1, 10]);
    expect((await session.run({ input: { dataType: 'float32', dims: [3, 1, 28, 28], data: new Float32Array(3 * 784) } })).output.dims).toEqual([3, 10]);
    const lenient = await load(lrm, { nonFinite: 'allow' });
    try {
      const out = await lenient.run({ input: { ...good().input, data: new Float32Array(784).fill(NaN) } });
      expect(Number.isNaN((out.output.data as Float32Array)[0])).toBe(true);
    } finally {
      await lenient.release();
    }
  });

  it('finds the first non-finite value wherever it is, and passes any finite values (extremes and -0 included)', () => {
    const inputs = [{ name: 'x', dataType: DataType.FLOAT, shape: [-1] }];
    const special = fc.constantFrom(NaN, Infinity, -Infinity);
    const finite = fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 3.4e38, -3.4e38, 1e-45));
    fc.assert(
      fc.property(fc.array(fc.oneof({ arbitrary: finite, weight: 20 }, { arbitrary: special, weight: 1 }), { maxLength: 300 }), (values) => {
        const data = Float32Array.from(values);
        const first = data.findIndex((v) => !Number.isFinite(v));
        const check = () => checkFeeds({ x: { dataType: 'float32', dims: [data.length], data } }, inputs);
        if (first < 0) expect(check).not.toThrow();
        else expect(check).toThrow(new RegExp(`has ${data[first]} at index ${first};`));
      }),
      { numRuns: 400 },
    );
  });
});

