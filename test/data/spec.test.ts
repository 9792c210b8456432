import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openDataset, parseDataSpec, type Batch, type Dataset } from '../../compiler/data/spec.js';
import { DataEmptyError, DataError, DataNotFoundError, DataShapeError, DataSpecError } from '../../compiler/data/errors.js';
import { IMAGENET_SYNSETS } from '../../compiler/data/imagenet-synsets.js';
import { SHARED, scratchDir, stats } from './helpers.js';
import { listImagenet } from '../../compiler/data/imagenet.js';

const MNIST = `mnist:${join(SHARED, 'mnist')}`;
const IMAGENET = `imagenet:${join(SHARED, 'imagenet-sample')}`;

async function collect(ds: Dataset, batchSize: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of ds.batches(batchSize)) out.push(b);
  return out;
}

describe('parseDataSpec', () => {
  it('splits scheme and directory at the first colon', () => {
    expect(parseDataSpec('mnist:../shared/data/mnist')).toEqual({ scheme: 'mnist', dir: '../shared/data/mnist' });
    expect(parseDataSpec('IMAGES:/a:b')).toEqual({ scheme: 'images', dir: '/a:b' });
  });

  it('gives a one-line DataSpecError for unknown schemes and missing parts', () => {
    expect(() => parseDataSpec('cifar:/x')).toThrow(/^unknown data scheme 'cifar' in 'cifar:\/x'; use mnist:<dir>, imagenet:<dir>, images:<dir>, tensors:<dir>, sts:<file.csv> or text:<file>$/);
    expect(() => parseDataSpec('/data/mnist')).toThrow(DataSpecError);
    expect(() => parseDataSpec('mnist:')).toThrow(/names no directory/);
  });
});

describe('mnist: datasets', () => {
  it('yields [b, 1, 28, 28] batches normalised with mean/std, with labels', async () => {
    const ds = await openDataset(MNIST, { layout: ['batch', 1, 28, 28], mean: [0.5], std: [0.5], limit: 10 });
    expect([ds.size, ds.total, ds.offset, ds.labelled]).toEqual([10, 10000, 0, true]);
    const batches = await collect(ds, 4);
    expect(batches.map((b) => b.input.dims)).toEqual([[4, 1, 28, 28], [4, 1, 28, 28], [2, 1, 28, 28]]);
    expect(batches.map((b) => b.start)).toEqual([0, 4, 8]);
    expect([...batches[0]!.labels!]).toEqual([7, 2, 1, 0]);
    const px = batches[0]!.input.data as Float32Array;
    expect(px[0]).toBe(-1); // background 0 → (0 - .5)/.5
    expect(stats(px).max).toBe(1); // ink 255 → 1
  });

  it('shapes to a flat [N, 784] input, raw 0..1 by default', async () => {
    const ds = await openDataset(MNIST, { layout: ['N', 784], limit: 3 });
    const [b] = await collect(ds, 8);
    expect(b!.input.dims).toEqual([3, 784]);
    const { min, max } = stats(b!.input.data as Float32Array);
    expect([min, max]).toEqual([0, 1]);
  });

  it('selects disjoint contiguous slices with offset/limit', async () => {
    const calib = await openDataset(MNIST, { layout: [1, 1, 28, 28], offset: 0, limit: 3 });
    const evalSet = await openDataset(MNIST, { layout: [1, 1, 28, 28], offset: 3, limit: 2 });
    const labels = async (ds: Dataset) => (await collect(ds, 1)).flatMap((b) => [...b.labels!]);
    expect(await labels(calib)).toEqual([7, 2, 1]);
    expect(await labels(evalSet)).toEqual([0, 4]);
    const tail = await openDataset(MNIST, { layout: [1, 1, 28, 28], offset: 9998 });
    expect(tail.size).toBe(2);
    expect(tail.description).toMatch(/samples 9998\.\.9999 of 10000/);
  });

  it('rejects layouts, options and slices that cannot work', async () => {
    await expect(openDataset(MNIST, { layout: ['N', 3, 224, 224] })).rejects.toThrow(/does not fit 28×28 MNIST images; expected \[N, 1, 28, 28\] or \[N, 784\]/);
    await expect(openDataset(MNIST, { layout: ['N', 1, 28, 28], labels: 'x.txt' })).rejects.toThrow(/--labels does not apply to mnist/);
    await expect(openDataset(MNIST, { layout: ['N', 784], offset: 10000 })).rejects.toThrow(DataEmptyError);
    await expect(openDataset(MNIST, { layout: ['N', 784], limit: 0 })).rejects.toThrow(/--limit must be a positive integer/);
    await expect(openDataset(MNIST, { layout: ['N', 784], mean: [0, 0] })).rejects.toThrow(/--mean has 2 values/);
    const ds = await openDataset(MNIST, { layout: ['N', 784] });
    await expect(ds.batches(0).next()).rejects.toThrow(/batch size/);
  });
});

describe('imagenet: and images: datasets', () => {
  it('imagenet: for a 1-channel model defaults to 0..1 (ImageNet mean/std are RGB-only)', async () => {
    const ds = await openDataset(IMAGENET, { layout: ['N', 1, 224, 224], limit: 1 });
    for await (const b of ds.batches(1)) {
      expect(b.input.dims).toEqual([1, 1, 224, 224]);
      const v = b.input.data as Float32Array;
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
    }
    await expect(openDataset(IMAGENET, { layout: ['N', 1, 224, 224], mean: [0.5, 0.5, 0.5] })).rejects.toThrow(/give 1 value$/);
  });

  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);
  let apostropheIndex: number;
  beforeAll(async () => {
    const all = await openDataset(IMAGENET, { layout: [1, 3, 224, 224] });
    expect([all.size, all.labelled]).toEqual([500, true]);
    apostropheIndex = (await listImagenet(join(SHARED, 'imagenet-sample'))).files.findIndex((f) => f.endsWith("n12057211_yellow_lady's_slipper.JPEG"));
    expect(apostropheIndex).toBeGreaterThan(0);
  });

  it('preprocesses to [b, 3, 224, 224] with ImageNet normalisation and labels (incl. an apostrophe filename)', async () => {
    const ds = await openDataset(IMAGENET, { layout: ['N', 3, 224, 224], offset: apostropheIndex - 1, limit: 2 });
    const [b, ...rest] = await collect(ds, 2);
    expect(rest).toEqual([]);
    expect(b!.input.dims).toEqual([2, 3, 224, 224]);
    expect([...b!.labels!]).toEqual([IMAGENET_SYNSETS.indexOf('n11879895'), IMAGENET_SYNSETS.indexOf('n12057211')]);
    const { min, max, mean } = stats(b!.input.data as Float32Array);
    expect(min).toBeGreaterThanOrEqual(-0.485 / 0.229 - 1e-5);
    expect(max).toBeLessThanOrEqual((1 - 0.406) / 0.225 + 1e-5);
    expect(max - min).toBeGreaterThan(2);
    expect(Math.abs(mean)).toBeLessThan(1.5); // roughly centred, as normalised photos are
    expect(ds.classes).toBe(IMAGENET_SYNSETS);
  });

  it('unlabelled images: any names, 0..1 by default, BGR and stretch on request', async () => {
    const d = join(dir, 'imgs');
    mkdirSync(d);
    copyFileSync(join(SHARED, 'images/dog.jpg'), join(d, "my dog's photo.JPG"));
    writeFileSync(join(d, 'readme.md'), 'not an image');
    const ds = await openDataset(`images:${relative(process.cwd(), d)}`, { layout: [1, 3, 352, 352], resize: 'stretch', channelOrder: 'BGR' });
    expect([ds.size, ds.labelled]).toEqual([1, false]);
    const [b] = await collect(ds, 1);
    expect(b!.input.dims).toEqual([1, 3, 352, 352]);
    expect(b!.labels).toBeUndefined();
    const { min, max } = stats(b!.input.data as Float32Array);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
  });

  it('gives one-line actionable DataErrors for missing, empty and unusable directories', async () => {
    await expect(openDataset(`mnist:${join(dir, 'missing')}`, { layout: ['N', 784] })).rejects.toThrow(DataNotFoundError);
    await expect(openDataset(`imagenet:${join(dir, 'missing')}`, { layout: [1, 3, 224, 224] })).rejects.toThrow(/^ImageNet directory not found: /);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expect(openDataset(`images:${empty}`, { layout: [1, 3, 224, 224] })).rejects.toThrow(DataEmptyError);
    await expect(openDataset(`imagenet:${empty}`, { layout: [1, 3, 224, 224] })).rejects.toThrow(DataEmptyError);
    writeFileSync(join(empty, 'a.png'), 'x');
    await expect(openDataset(`images:${empty}`, { layout: [1, 3, 224, 224] })).rejects.toThrow(/1 other image files: only JPEG is supported/);
    await expect(openDataset(IMAGENET, { layout: ['N', 784] })).rejects.toThrow(DataShapeError);
    await expect(openDataset(IMAGENET, { layout: ['N', 3, 'h', 'w'], limit: 1 })).resolves.toMatchObject({ description: expect.stringMatching(/3×224×224$/) });
    await expect(openDataset(`images:${empty}`, { layout: ['N', 3, 'h', 'w'] })).rejects.toThrow(/symbolic height or width; give the size to resize images to with --size HxW \(e\.g\. --size 48x320\)/);
    await expect(openDataset(IMAGENET, { layout: [1, 3, 224, 224], labels: join(dir, 'nope.txt') })).rejects.toThrow(/labels file not found/);
    await expect(openDataset(IMAGENET, { layout: [1, 3, 224, 224], split: 'train' })).rejects.toThrow(DataSpecError);
    for (const bad of ['x', 'cifar:/x']) await expect(openDataset(bad, { layout: [1] })).rejects.toThrow(DataError);
  });

  it('--size makes images for a symbolic height or width at that size; a fixed dim must agree; mnist refuses it', async () => {
    const images = IMAGENET.replace(/^imagenet:/, 'images:');
    const ocr = await openDataset(images, { layout: ['N', 3, 48, 'W'], size: { height: 48, width: 320 }, limit: 2 });
    const first = (await ocr.batches(2)[Symbol.asyncIterator]().next()).value as Batch;
    expect(first.input.dims).toEqual([2, 3, 48, 320]);
    await expect(openDataset(images, { layout: [1, 3, 48, 'W'], size: { height: 32, width: 320 } })).rejects.toThrow(/fixed height of 48, but --size asks for 32/);
    await expect(openDataset(`mnist:${join(SHARED, 'mnist')}`, { layout: ['N', 1, 28, 28], size: { height: 28, width: 28 } })).rejects.toThrow(/--size does not apply to mnist/);
  });
});
