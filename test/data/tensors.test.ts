import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { feedBatches, openDataset, parseDataSpec, type Dataset } from '../../compiler/data/spec.js';
import { canConcatenate } from '../../compiler/data/tensors.js';
import { serializeNpy } from '../../compiler/data/npy.js';
import { DataEmptyError, DataShapeError, DataSpecError } from '../../compiler/data/errors.js';
import type { ModelInput } from '../../compiler/data/tensor-file.js';
import type { HostTensor } from '../../compiler/data/tensor.js';
import { SHARED, scratchDir } from './helpers.js';

const image: ModelInput[] = [{ name: 'input', dataType: 1, shape: ['batch', 1, 2, 2] }];
const sequence: ModelInput[] = [{ name: 'tokens', dataType: 7, shape: ['batch', 'seq'] }];
const silero: ModelInput[] = [
  { name: 'input', dataType: 1, shape: ['batch', 576] },
  { name: 'state', dataType: 1, shape: [2, 'batch', 128] },
  { name: 'sr', dataType: 7, shape: [] },
];

const npy = (dims: number[], fill: number): Uint8Array =>
  serializeNpy({ dataType: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill) });

async function collect(feeds: AsyncIterable<Record<string, HostTensor>>): Promise<Array<Record<string, HostTensor>>> {
  const out: Array<Record<string, HostTensor>> = [];
  for await (const f of feeds) out.push(f);
  return out;
}

describe('tensors: datasets', () => {
  const { dir: root, cleanup } = scratchDir();
  afterAll(cleanup);
  const folder = (name: string): string => {
    const d = join(root, name);
    mkdirSync(d);
    return d;
  };

  it('parses the spec', () => {
    expect(parseDataSpec('tensors:/data/x')).toEqual({ scheme: 'tensors', dir: '/data/x' });
  });

  it('lists .npy and .json samples in code-unit order, ignores other and hidden files, and slices with offset/limit', async () => {
    const d = folder('single');
    writeFileSync(join(d, 'b.npy'), npy([1, 1, 2, 2], 2));
    writeFileSync(join(d, 'a.json'), JSON.stringify({ input: [[[[1, 1], [1, 1]]]] }));
    writeFileSync(join(d, 'C.npy'), npy([4], 0)); // a flat vector of the right size is reshaped
    writeFileSync(join(d, 'README.md'), 'notes');
    writeFileSync(join(d, '.hidden.npy'), 'junk');
    const ds = await openDataset(`tensors:${d}`, { layout: [] });
    expect([ds.size, ds.total, ds.labelled]).toEqual([3, 3, false]);
    expect(ds.samplePaths!.map((p) => p.slice(d.length + 1))).toEqual(['C.npy', 'a.json', 'b.npy']);

    const batches = await collect(feedBatches(ds, image, 2));
    expect(batches.map((b) => b.input!.dims)).toEqual([[2, 1, 2, 2], [1, 1, 2, 2]]);
    expect(Array.from(batches[0]!.input!.data as Float32Array)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);

    const slice = await openDataset(`tensors:${d}`, { layout: [], offset: 1, limit: 1 });
    expect(slice.description).toMatch(/samples 1\.\.1 of 3$/);
    const [only] = await collect(feedBatches(slice, image, 8));
    expect(Array.from(only!.input!.data as Float32Array)).toEqual([1, 1, 1, 1]);
  });

  it('batches() needs the model inputs and then yields the first input plus all feeds', async () => {
    const d = folder('batches');
    writeFileSync(join(d, 'x.npy'), npy([1, 1, 2, 2], 3));
    const bare = await openDataset(`tensors:${d}`, { layout: [] });
    await expect(bare.batches(4).next()).rejects.toThrow(/needs the model inputs/);
    const ds = await openDataset(`tensors:${d}`, { layout: [], inputs: image });
    const { value } = await ds.batches(4).next();
    expect(value!.input.dims).toEqual([1, 1, 2, 2]);
    expect(value!.feeds!.input).toBe(value!.input);
    expect(value!.start).toBe(0);
  });

  it('cuts a batch where the shape changes, so every batch is a valid input', async () => {
    const d = folder('sequences');
    const doc = (n: number) => JSON.stringify({ tokens: { dims: [1, n], data: new Array(n).fill(n) } });
    ['s1.json', 's2.json', 's3.json'].forEach((f, i) => writeFileSync(join(d, f), doc([3, 3, 5][i]!)));
    const batches = await collect(feedBatches(await openDataset(`tensors:${d}`, { layout: [] }), sequence, 8));
    expect(batches.map((b) => b.tokens!.dims)).toEqual([[2, 3], [1, 5]]);
    expect(batches[0]!.tokens!.data).toBeInstanceOf(BigInt64Array);
  });

  it('feeds several inputs one sample at a time when they have no common batch dim (silero VAD)', async () => {
    expect(canConcatenate(silero)).toBe(false);
    expect(canConcatenate(image)).toBe(true);
    expect(canConcatenate([...image, { name: 'mask', dataType: 1, shape: ['N', 4] }])).toBe(false);
    const d = folder('silero');
    writeFileSync(join(d, '0.json'), JSON.stringify({ input: [new Array(576).fill(0.1)], state: { dims: [2, 1, 128], data: new Array(256).fill(0) }, sr: 16000 }));
    const sample = folder('silero/1');
    writeFileSync(join(sample, 'input.npy'), npy([1, 576], 0.2));
    writeFileSync(join(sample, 'state.npy'), npy([2, 1, 128], 0));
    writeFileSync(join(sample, 'sr.npy'), serializeNpy({ dataType: 'int64', dims: [], data: BigInt64Array.of(16000n) }));
    const batches = await collect(feedBatches(await openDataset(`tensors:${d}`, { layout: [] }), silero, 32));
    expect(batches).toHaveLength(2);
    for (const b of batches) {
      expect(Object.keys(b).sort()).toEqual(['input', 'sr', 'state']);
      expect([b.input!.dims, b.state!.dims, b.sr!.dims]).toEqual([[1, 576], [2, 1, 128], []]);
      expect(b.sr!.data).toEqual(BigInt64Array.of(16000n));
    }
    expect((batches[1]!.input!.data as Float32Array)[0]).toBeCloseTo(0.2);
  });

  it('gives one-line DataErrors for unusable directories and samples', async () => {
    await expect(openDataset(`tensors:${folder('empty')}`, { layout: [] })).rejects.toThrow(DataEmptyError);
    await expect(openDataset(`tensors:${join(root, 'missing')}`, { layout: [] })).rejects.toThrow(/tensors directory not found/);
    const d = folder('bad');
    writeFileSync(join(d, 'a.npy'), npy([1, 576], 0));
    await expect(openDataset(`tensors:${d}`, { layout: [], mean: [0.5] })).rejects.toThrow(/--mean does not apply to tensors/);
    const ds = await openDataset(`tensors:${d}`, { layout: [] });
    await expect(collect(feedBatches(ds, silero, 1))).rejects.toThrow(DataSpecError);
    await expect(collect(feedBatches(ds, image, 1))).rejects.toThrow(DataShapeError);

    const f = folder('bad-folder');
    const s = folder('bad-folder/0');
    writeFileSync(join(s, 'input.npy'), npy([1, 576], 0));
    writeFileSync(join(s, 'extra.npy'), npy([1], 0));
    const folders = await openDataset(`tensors:${f}`, { layout: [] });
    await expect(collect(feedBatches(folders, silero, 1))).rejects.toThrow(/extra\.npy name no model input/);
  });
});

describe('feedBatches on image data sets', () => {
  const mnist = (layout: ReadonlyArray<number | string>, limit: number): Promise<Dataset> =>
    openDataset(`mnist:${join(SHARED, 'mnist')}`, { layout, limit });

  it('binds the batch to the single input, batched as the model allows', async () => {
    const free = await collect(feedBatches(await mnist(['N', 1, 28, 28], 5), [{ name: 'x', dataType: 1, shape: ['N', 1, 28, 28] }], 4));
    expect(free.map((f) => f.x!.dims)).toEqual([[4, 1, 28, 28], [1, 1, 28, 28]]);
    const fixed = await collect(feedBatches(await mnist([1, 1, 28, 28], 2), [{ name: 'Input3', dataType: 1, shape: [1, 1, 28, 28] }], 64));
    expect(fixed.map((f) => f.Input3!.dims)).toEqual([[1, 1, 28, 28], [1, 1, 28, 28]]);
    const chw = await collect(feedBatches(await mnist([1, 28, 28], 1), [{ name: 'x', dataType: 1, shape: [1, 28, 28] }], 8));
    expect(chw.map((f) => f.x!.dims)).toEqual([[1, 28, 28]]);
  });

  it('refuses a model with several inputs', async () => {
    await expect(collect(feedBatches(await mnist(['N', 784], 1), silero, 1))).rejects.toThrow(/mnist: data feeds a single-input model, this one has 3 .*use tensors:<dir>/);
  });
});
