import { describe, it, expect } from 'vitest';
import jpeg from 'jpeg-js';
import { join } from 'node:path';
import {
  centerCrop,
  decodeJpeg,
  preprocessImage,
  readImageFile,
  resizeBilinear,
  resizeShortSide,
  shortSideSize,
  writeChw,
  type Image,
} from '../../compiler/data/image.js';
import { DataError } from '../../compiler/data/errors.js';
import { SHARED, stats, tinyJpeg } from './helpers.js';

const gray = (w: number, h: number, values: number[]): Image => ({ width: w, height: h, channels: 1, data: Uint8Array.from(values) });
const close = (actual: ArrayLike<number>, expected: number[], digits = 4) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, digits));
};

describe('resizeBilinear (Pillow convention: half-pixel centres, antialias on downscale)', () => {
  it('upscales 2×2 → 4×4 as half-pixel bilinear with clamped edges', () => {
    // Per axis the weights are [1,0], [.75,.25], [.25,.75], [0,1] (sample points -0.25, 0.25, 0.75, 1.25).
    // Rows: [0,60] → [0,15,45,60], [120,180] → [120,135,165,180]; then the same weights down the columns.
    const out = resizeBilinear(gray(2, 2, [0, 60, 120, 180]), 4, 4);
    close(out.data, [0, 15, 45, 60, 30, 45, 75, 90, 90, 105, 135, 150, 120, 135, 165, 180]);
  });

  it('downscales 4 → 2 with a widened triangle filter (antialias)', () => {
    // Output 0: centre 1.0, filter half-width 2 → taps x=0,1,2 with weights .75,.75,.25 (sum 1.75).
    // (0·.75 + 40·.75 + 80·.25)/1.75 = 200/7; output 1: (40·.25 + 80·.75 + 120·.75)/1.75 = 640/7.
    close(resizeBilinear(gray(4, 1, [0, 40, 80, 120]), 2, 1).data, [200 / 7, 640 / 7]);
  });

  it('downscales 3 → 2 (non-integer factor 1.5)', () => {
    // Output 0: centre .75, weights 5/6 (x=0) and 1/2 (x=1), sum 4/3 → 90·.5·.75 = 33.75.
    // Output 1: centre 2.25, weights 1/2 (x=1) and 5/6 (x=2) → (45 + 150)·.75 = 146.25.
    close(resizeBilinear(gray(3, 1, [0, 90, 180]), 2, 1).data, [33.75, 146.25]);
  });

  it('without antialias, downscaling samples at half-pixel centres (OpenCV INTER_LINEAR)', () => {
    // Sample points 0.5 and 2.5 → 20 and 100.
    close(resizeBilinear(gray(4, 1, [0, 40, 80, 120]), 2, 1, { antialias: false }).data, [20, 100]);
  });

  it('is the identity at the same size, and keeps channels interleaved', () => {
    const img: Image = { width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    close(resizeBilinear(img, 2, 1).data, [1, 2, 3, 4, 5, 6]);
  });
});

describe('resize short side and centre crop (torchvision Resize(256) + CenterCrop(224))', () => {
  it('computes the long side by truncation', () => {
    expect(shortSideSize(500, 375, 256)).toEqual({ width: 341, height: 256 });
    expect(shortSideSize(375, 500, 256)).toEqual({ width: 256, height: 341 });
    expect(shortSideSize(256, 300, 256)).toEqual({ width: 256, height: 300 });
  });

  it('does not touch an image whose short side already matches', () => {
    const img = gray(256, 300, new Array(256 * 300).fill(7));
    expect(resizeShortSide(img, 256)).toBe(img);
  });

  it('crops at round((W - w) / 2) with Python rounding (halves to even)', () => {
    const row = (w: number) => gray(w, 1, Array.from({ length: w }, (_, i) => i));
    expect([...centerCrop(row(5), 2, 1).data]).toEqual([2, 3]); // 1.5 → 2
    expect([...centerCrop(row(8), 3, 1).data]).toEqual([2, 3, 4]); // 2.5 → 2
    expect([...centerCrop(row(7), 3, 1).data]).toEqual([2, 3, 4]); // 2
    const grid = gray(3, 3, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...centerCrop(grid, 1, 1).data]).toEqual([4]);
    expect(() => centerCrop(grid, 4, 1)).toThrow(DataError);
  });
});

describe('writeChw (NCHW, 0..1 scaling, mean/std, channel order)', () => {
  const px: Image = { width: 2, height: 1, channels: 3, data: Uint8Array.from([255, 0, 51, 0, 255, 102]) };

  it('writes RGB planes of (x/255 - mean)/std with per-channel values', () => {
    const out = new Float32Array(6);
    writeChw(px, { channels: 3, channelOrder: 'RGB', mean: [0, 0.5, 0.2], std: [1, 0.5, 0.2] }, out);
    close(out, [1, 0, -1, 1, 0, 1]);
  });

  it('swaps to BGR, with one mean/std for all channels, at an offset', () => {
    const out = new Float32Array(8);
    writeChw(px, { channels: 3, channelOrder: 'BGR', mean: [0.5], std: [0.5] }, out, 2);
    close(out, [0, 0, -0.6, -0.2, -1, 1, 1, -1]);
  });

  it('fills one channel with ITU-R 601 luma', () => {
    const out = new Float32Array(2);
    writeChw(px, { channels: 1, channelOrder: 'RGB', mean: [0], std: [1] }, out);
    close(out, [(0.299 * 255 + 0.114 * 51) / 255, (0.587 * 255 + 0.114 * 102) / 255]);
  });

  it('rejects a mean list of the wrong length and a zero std', () => {
    expect(() => writeChw(px, { channels: 3, channelOrder: 'RGB', mean: [0, 0], std: [1] }, new Float32Array(6))).toThrow(/--mean has 2 values/);
    expect(() => writeChw(px, { channels: 3, channelOrder: 'RGB', mean: [0], std: [0] }, new Float32Array(6))).toThrow(/--std/);
  });
});

describe('decodeJpeg', () => {
  it('expands a grayscale JPEG to RGB', () => {
    const img = decodeJpeg(tinyJpeg([200]), 'gray.jpg');
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([8, 8, 3, 192]);
    for (const v of img.data) expect(Math.abs(v - 200)).toBeLessThanOrEqual(1);
  });

  it('converts an Adobe CMYK JPEG to RGB', () => {
    // Adobe CMYK is stored inverted (255 = no ink): full cyan ink, nothing else → RGB (0, 255, 255).
    const img = decodeJpeg(tinyJpeg([0, 255, 255, 255], 0), 'cmyk.jpg');
    expect([img.width, img.height, img.channels]).toEqual([8, 8, 3]);
    expect(img.data[0]).toBeLessThanOrEqual(2);
    expect(img.data[1]).toBeGreaterThanOrEqual(253);
    expect(img.data[2]).toBeGreaterThanOrEqual(253);
  });

  it('refuses a 4-component JPEG without an Adobe marker', () => {
    expect(() => decodeJpeg(tinyJpeg([0, 255, 255, 255]), 'x.jpg')).toThrow(expect.objectContaining({ code: 'DATA_UNSUPPORTED' }));
  });

  it('turns the decode limits into a clear DataError', () => {
    const enc = jpeg.encode({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 4).fill(128) }, 90);
    expect(decodeJpeg(enc.data).width).toBe(64);
    expect(() => decodeJpeg(enc.data, 'big.jpg', { maxResolutionInMP: 0.001 })).toThrow(
      expect.objectContaining({ code: 'DATA_TOO_LARGE', message: expect.stringMatching(/^big\.jpg: .*megapixel/) }),
    );
  });

  it('rejects non-JPEG bytes and corrupt data with DataErrors', () => {
    expect(() => decodeJpeg(Uint8Array.from([0x89, 0x50, 0x4e, 0x47]), 'a.png')).toThrow(/it is a PNG/);
    expect(() => decodeJpeg(Uint8Array.from([0xff, 0xd8, 0xff, 0x00, 0x01]), 'bad.jpg')).toThrow(DataError);
  });

  it('decodes and preprocesses a real photo to [3, 224, 224] (ImageNet pipeline)', async () => {
    const img = await readImageFile(join(SHARED, 'images/dog.jpg'));
    expect([img.width, img.height]).toEqual([768, 576]);
    const out = preprocessImage(img, { channels: 3, height: 224, width: 224 }, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(out.length).toBe(3 * 224 * 224);
    const { min, max } = stats(out);
    expect(min).toBeGreaterThanOrEqual(-0.485 / 0.229 - 1e-5);
    expect(max).toBeLessThanOrEqual((1 - 0.406) / 0.225 + 1e-5);
    expect(max - min).toBeGreaterThan(2); // a real photo spans most of the range
  });
});
