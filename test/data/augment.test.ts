import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentFeeds, cropResizeFlip } from '../../compiler/data/augment.js';
import { DataSpecError } from '../../compiler/data/errors.js';
import type { Feeds } from '../../runtime/tensor.js';

const image = (c: number, h: number, w: number, seed: number) => Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(i * 0.37 + seed));

describe('calibration augmentation', () => {
  it('a full-size crop without flip is the image; mirroring twice is the image', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), (c, h, w) => {
        const x = image(c, h, w, h * w);
        const box = { left: 0, top: 0, width: w, height: h };
        expect(cropResizeFlip(x, c, h, w, box, false)).toEqual(x);
        expect(cropResizeFlip(cropResizeFlip(x, c, h, w, box, true), c, h, w, box, true)).toEqual(x);
        // A mirrored row reads backwards.
        const m = cropResizeFlip(x, c, h, w, box, true);
        expect(m[0]).toBe(x[w - 1]);
      }),
    );
  });

  it('appends the variants after the originals, different from them and the same on every pass', async () => {
    const [n, c, h, w] = [3, 3, 16, 16];
    const data = new Float32Array(n * c * h * w);
    for (let i = 0; i < n; i++) data.set(image(c, h, w, i), i * c * h * w);
    const batch: Feeds = { x: { dataType: 'float32', dims: [n, c, h, w], data } };
    const pass = () => (async function* () { yield batch; yield batch; })();
    const augmented = augmentFeeds(pass, 'x', { copies: 2, minScale: 0.5 });
    const first: Feeds[] = [];
    for await (const f of augmented()) first.push(f);
    const second: Feeds[] = [];
    for await (const f of augmented()) second.push(f);
    expect(first[0].x.dims).toEqual([9, c, h, w]);
    expect((first[0].x.data as Float32Array).subarray(0, data.length)).toEqual(data);
    expect(second.map((f) => f.x.data)).toEqual(first.map((f) => f.x.data));
    // Images 3..5 of the second batch are other variants than those of the first (their index differs).
    expect(first[1].x.data).not.toEqual(first[0].x.data);
    const plane = c * h * w;
    for (let v = 0; v < 6; v++) expect((first[0].x.data as Float32Array).subarray((n + v) * plane, (n + v + 1) * plane)).not.toEqual(data.subarray((v % n) * plane, (v % n + 1) * plane));
  });

  it('refuses what is not a float image batch, and 0 copies changes nothing', () => {
    expect(() => augmentBatch({ dataType: 'float32', dims: [2, 784], data: new Float32Array(1568) }, 0, { copies: 1 })).toThrow(DataSpecError);
    const pass = () => (async function* () {})();
    expect(augmentFeeds(pass, 'x', { copies: 0 })).toBe(pass);
    expect(() => augmentFeeds(pass, 'x', { copies: -1 })).toThrow(/whole number/);
  });
});
