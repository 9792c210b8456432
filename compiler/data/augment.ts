/**
 * Augmentation of calibration images for small unlabelled sets: every image of a batch also appears as
 * `copies` random variants, each a random crop (side `minScale`..1 of the image, random position) resized back
 * to the model's size, mirrored left-right half of the time when `flip` is on. It works on the preprocessed
 * float tensor [N, C, H, W]: cropping and bilinear resizing commute with the per-channel normalisation, so the
 * variants are what preprocessing a cropped photo would give. Variants depend only on (seed, image index,
 * copy), so every pass over the data (refit makes several) sees the same ones.
 */
import type { Feeds, HostTensor } from '../../runtime/tensor.js';
import { DataSpecError } from './errors.js';
import { resizeBilinear } from './image.js';

export interface AugmentOptions {
  /** Extra variants per image (0: none). */
  copies: number;
  /** Mirror left-right at random (default true; off for data where mirroring changes meaning, e.g. digits or text). */
  flip?: boolean;
  /** Smallest crop side as a fraction of the image side (default 0.75). */
  minScale?: number;
  seed?: number;
}

/** The feeds of each pass with `copies` variants of every image appended to its batch. */
export function augmentFeeds(pass: () => AsyncIterable<Feeds>, inputName: string, options: AugmentOptions): () => AsyncIterable<Feeds> {
  if (!Number.isInteger(options.copies) || options.copies < 0) throw new DataSpecError(`augment: copies must be a whole number ≥ 0, got ${options.copies}`);
  if (options.copies === 0) return pass;
  return async function* () {
    let index = 0;
    for await (const feeds of pass()) {
      const t = feeds[inputName];
      if (!t) throw new DataSpecError(`augment: the feeds have no input '${inputName}'`);
      yield { ...feeds, [inputName]: augmentBatch(t, index, options) };
      index += t.dims[0] ?? 1;
    }
  };
}

/** [N, C, H, W] → [N·(1 + copies), C, H, W]: the originals first, then their variants. */
export function augmentBatch(t: HostTensor, firstIndex: number, options: AugmentOptions): HostTensor {
  if (t.dims.length !== 4 || t.dataType !== 'float32') {
    throw new DataSpecError(`augment: crops and flips need float32 images [N, C, H, W], got ${t.dataType} [${t.dims.join(', ')}]`);
  }
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const data = t.data as Float32Array;
  const plane = c * h * w;
  const out = new Float32Array(n * (1 + options.copies) * plane);
  out.set(data);
  const minScale = options.minScale ?? 0.75;
  let at = n;
  for (let copy = 0; copy < options.copies; copy++) {
    for (let i = 0; i < n; i++) {
      const random = mulberry32(((options.seed ?? 0x5eed) ^ Math.imul(firstIndex + i + 1, 0x9e3779b1) ^ Math.imul(copy + 1, 0x85ebca6b)) >>> 0);
      const scale = minScale + (1 - minScale) * random();
      const cw = Math.max(1, Math.round(w * scale));
      const ch = Math.max(1, Math.round(h * scale));
      const left = Math.floor(random() * (w - cw + 1));
      const top = Math.floor(random() * (h - ch + 1));
      const flip = (options.flip ?? true) && random() < 0.5;
      out.set(cropResizeFlip(data.subarray(i * plane, (i + 1) * plane), c, h, w, { left, top, width: cw, height: ch }, flip), at * plane);
      at++;
    }
  }
  return { dataType: 'float32', dims: [n * (1 + options.copies), c, h, w], data: out };
}

/** One CHW image: crop the box, resize it back to h×w (bilinear, antialiased), mirror if asked. */
export function cropResizeFlip(chw: Float32Array, c: number, h: number, w: number, box: { left: number; top: number; width: number; height: number }, flip: boolean): Float32Array {
  // resizeBilinear works on interleaved HWC images.
  const hwc = new Float32Array(box.width * box.height * c);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      for (let k = 0; k < c; k++) hwc[(y * box.width + x) * c + k] = chw[(k * h + box.top + y) * w + box.left + x];
    }
  }
  const resized = box.width === w && box.height === h ? hwc : (resizeBilinear({ width: box.width, height: box.height, channels: c, data: hwc }, w, h).data as Float32Array);
  const out = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = flip ? w - 1 - x : x;
      for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = resized[(y * w + sx) * c + k];
    }
  }
  return out;
}

/** A small seeded PRNG (mulberry32): reproducible variants without a dependency. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
