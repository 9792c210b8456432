import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parseIdx, readMnist, mnistSplits, type MnistData } from '../../compiler/data/mnist.js';
import { DataEmptyError, DataFormatError, DataNotFoundError } from '../../compiler/data/errors.js';
import { SHARED, scratchDir } from './helpers.js';

const MNIST = join(SHARED, 'mnist');

/** An IDX file of unsigned bytes: 0, 0, 0x08, rank, big-endian dims, data. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 8, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('MNIST t10k (real files)', () => {
  let mnist: MnistData;
  beforeAll(async () => {
    mnist = await readMnist(MNIST);
  });

  it('reads the 10,000 28×28 test images and their labels', () => {
    expect(mnist.split).toBe('t10k');
    expect([mnist.count, mnist.rows, mnist.cols]).toEqual([10000, 28, 28]);
    expect(mnist.pixels.length).toBe(10000 * 784);
    expect(mnist.labels.length).toBe(10000);
    expect([...mnist.labels.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
    expect(Math.max(...mnist.labels)).toBe(9);
  });

  it('gives each image as a 784-byte view with background 0 and some ink', () => {
    const img = mnist.image(0);
    expect(img.length).toBe(784);
    expect(img[0]).toBe(0);
    expect(Math.max(...img)).toBe(255);
    const first = mnist.samples().next().value!;
    expect(first.label).toBe(7);
    expect(first.image).toEqual(img);
    expect(() => mnist.image(10000)).toThrow(RangeError);
  });

  it('lists the splits present', async () => {
    expect(await mnistSplits(MNIST)).toEqual(['t10k']);
  });
});

describe('MNIST directory variants and errors (synthetic files)', () => {
  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);
  const pixels = Uint8Array.from({ length: 3 * 4 }, (_, i) => i * 20);

  it('accepts un-gzipped train-* files and the dotted mirror spelling', async () => {
    const d = join(dir, 'plain');
    mkdirSync(d);
    writeFileSync(join(d, 'train-images-idx3-ubyte'), idx([3, 2, 2], pixels));
    writeFileSync(join(d, 'train-labels.idx1-ubyte'), idx([3], Uint8Array.from([5, 6, 7])));
    const m = await readMnist(d);
    expect([m.split, m.count, m.rows, m.cols]).toEqual(['train', 3, 2, 2]);
    expect([...m.image(1)]).toEqual([80, 100, 120, 140]);
    expect([...m.labels]).toEqual([5, 6, 7]);
    // A gzipped test split next to it is preferred by default; asking for train still works.
    writeFileSync(join(d, 't10k-images-idx3-ubyte.gz'), gzipSync(idx([1, 2, 2], pixels.subarray(0, 4))));
    writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([1], Uint8Array.from([1]))));
    expect((await readMnist(d)).split).toBe('t10k');
    expect((await readMnist(d, 'train')).count).toBe(3);
  });

  it('validates magic numbers and sizes', () => {
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 3]), 'x', 3)).toThrow(/truncated IDX header/);
    expect(() => parseIdx(idx([2], Uint8Array.from([1, 2])), 'lbl', 3)).toThrow(/IDX magic 0x00000801 means 1-D data, expected 3-D/);
    expect(() => parseIdx(Uint8Array.from([1, 2, 3, 4, 5]), 'x')).toThrow(/bad magic/);
    const floats = idx([1], Uint8Array.from([1]));
    floats[2] = 0x0d;
    expect(() => parseIdx(floats, 'x')).toThrow(/element type 0x0d/);
    expect(() => parseIdx(idx([2, 2, 2], new Uint8Array(7)), 'img', 3)).toThrow(/says \[2, 2, 2\] = 8 bytes .* has 7 \(truncated\?\)/);
  });

  it('reports mismatched counts, corrupt gzip, missing and empty directories as DataErrors', async () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), idx([3, 2, 2], pixels));
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idx([2], Uint8Array.from([1, 2])));
    await expect(readMnist(d)).rejects.toThrow(/3 images but 2 labels/);
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), Uint8Array.from([0x1f, 0x8b, 1, 2, 3]));
    await expect(readMnist(d)).rejects.toThrow(DataFormatError);
    await expect(readMnist(join(dir, 'nope'))).rejects.toThrow(DataNotFoundError);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expect(readMnist(empty)).rejects.toThrow(DataEmptyError);
    writeFileSync(join(empty, 'README'), 'x');
    await expect(readMnist(empty)).rejects.toThrow(/no MNIST files in .*t10k-images-idx3-ubyte\.gz/);
  });
});
