/**
 * Resampling and cropping in Pillow's convention (see image.ts for the convention), free of Node modules so the
 * browser examples preprocess photos exactly as the compiler, the evaluator and the tests do.
 */
import { DataShapeError } from './errors.js';

/** An image in interleaved (HWC) layout; `data.length === width * height * channels`. */
export interface Image {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array | Float32Array;
}

/** Pillow's precompute_coeffs for the triangle (bilinear) filter: per output index, a first input index and weights. */
function coefficients(inSize: number, outSize: number, antialias: boolean): { start: Int32Array; size: Int32Array; weights: Float64Array; taps: number } {
  const scale = inSize / outSize;
  const filterScale = antialias ? Math.max(scale, 1) : 1;
  const support = 1 * filterScale; // the triangle filter has support 1
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    for (let x = xmin; x < xmax; x++) {
      const d = Math.abs((x - center + 0.5) / filterScale);
      const w = d < 1 ? 1 - d : 0;
      weights[i * taps + x - xmin] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = xmin; x < xmax; x++) weights[i * taps + x - xmin]! /= sum;
    start[i] = xmin;
    size[i] = xmax - xmin;
  }
  return { start, size, weights, taps };
}

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new DataShapeError(`${what}: invalid image size ${width}×${height}`);
  }
}

/** Bilinear resize to width×height (convention in the file comment). Returns a float image, values unrounded. */
export function resizeBilinear(img: Image, width: number, height: number, opts: { antialias?: boolean } = {}): Image {
  checkSize(width, height, 'resize');
  const antialias = opts.antialias ?? true;
  const c = img.channels;
  const src = img.data;
  // Horizontal pass: img.height rows of `width` pixels.
  const cx = coefficients(img.width, width, antialias);
  const tmp = new Float32Array(img.height * width * c);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * c;
    for (let x = 0; x < width; x++) {
      const s = cx.start[x]!;
      const n = cx.size[x]!;
      const wo = x * cx.taps;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += cx.weights[wo + k]! * src[row + (s + k) * c + ch]!;
        tmp[(y * width + x) * c + ch] = acc;
      }
    }
  }
  // Vertical pass.
  const cy = coefficients(img.height, height, antialias);
  const out = new Float32Array(height * width * c);
  const stride = width * c;
  for (let y = 0; y < height; y++) {
    const s = cy.start[y]!;
    const n = cy.size[y]!;
    const wo = y * cy.taps;
    for (let i = 0; i < stride; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += cy.weights[wo + k]! * tmp[(s + k) * stride + i]!;
      out[y * stride + i] = acc;
    }
  }
  return { width, height, channels: c, data: out };
}

/**
 * The output size of torchvision's Resize(size) with an int size: the short side becomes `size`, the long
 * side int(size * long / short) (truncated, as torchvision does).
 */
export function shortSideSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

/** Resizes so the short side is `size`, keeping the aspect ratio; no-op when it already is (as torchvision). */
export function resizeShortSide(img: Image, size: number, opts: { antialias?: boolean } = {}): Image {
  const t = shortSideSize(img.width, img.height, size);
  if (t.width === img.width && t.height === img.height) return img;
  return resizeBilinear(img, t.width, t.height, opts);
}

/** Python 3's round(): halves go to the even neighbour. torchvision's CenterCrop uses it for the offsets. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Centre crop to width×height with torchvision's offsets: top = round((H - h) / 2), left likewise. */
export function centerCrop(img: Image, width: number, height: number): Image {
  checkSize(width, height, 'centre crop');
  if (width > img.width || height > img.height) {
    throw new DataShapeError(`centre crop ${width}×${height} is larger than the ${img.width}×${img.height} image; resize it larger first`);
  }
  const top = pyRound((img.height - height) / 2);
  const left = pyRound((img.width - width) / 2);
  const c = img.channels;
  const out = img.data instanceof Float32Array ? new Float32Array(width * height * c) : new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * c;
    out.set(img.data.subarray(from, from + width * c), y * width * c);
  }
  return { width, height, channels: c, data: out };
}

