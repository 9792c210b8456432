/**
 * Image decoding and the preprocessing that vision models expect: resize, centre crop, channel order,
 * NCHW layout and normalisation.
 *
 * Resampling convention (one, used everywhere): Pillow's BILINEAR resize, which is what torchvision's
 * transforms do on PIL images and so what most published ImageNet accuracies were measured with:
 *  - half-pixel centres: output pixel i samples the input at (i + 0.5) * in/out - 0.5;
 *  - upscaling: plain bilinear interpolation between the two nearest pixels, edges clamped;
 *  - downscaling: antialiased, i.e. a triangle filter widened by the scale factor, so every input pixel
 *    under the output pixel contributes (plain bilinear would skip pixels and alias).
 * `antialias: false` gives the non-antialiased variant (OpenCV INTER_LINEAR, torch interpolate
 * align_corners=False), for models whose reference pipeline used OpenCV.
 * We keep float results; Pillow rounds to 8 bits after each pass, so values can differ from it by about 1/255.
 * EXIF orientation is ignored, as Pillow's Image.open does.
 */
import jpeg from 'jpeg-js';
import { DataFormatError, DataShapeError, DataSpecError, DataTooLargeError, UnsupportedDataError } from './errors.js';
import { readFileOrThrow } from './files.js';
import { centerCrop, resizeBilinear, resizeShortSide, type Image } from './resample.js';

export { centerCrop, resizeBilinear, resizeShortSide, shortSideSize, type Image } from './resample.js';

/** Guards against decompression bombs: a small file can declare a huge image. Passed to jpeg-js. */
export interface DecodeLimits {
  maxResolutionInMP?: number;
  maxMemoryUsageInMB?: number;
}

export const DEFAULT_DECODE_LIMITS: Required<DecodeLimits> = { maxResolutionInMP: 100, maxMemoryUsageInMB: 512 };

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Decodes a JPEG to 8-bit RGB. jpeg-js expands grayscale to three equal channels and converts Adobe CMYK/YCCK
 * to RGB; a 4-component JPEG without the Adobe marker has no defined colour space and is refused.
 */
export function decodeJpeg(bytes: Uint8Array, source = 'image', limits: DecodeLimits = {}): Image {
  if (!isJpeg(bytes)) {
    const png = bytes[0] === 0x89 && bytes[1] === 0x50;
    throw new UnsupportedDataError(`${source}: not a JPEG file${png ? ' (it is a PNG)' : ''}; only JPEG images are supported`);
  }
  const lim = { ...DEFAULT_DECODE_LIMITS, ...limits };
  let img;
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: lim.maxResolutionInMP,
      maxMemoryUsageInMB: lim.maxMemoryUsageInMB,
    });
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    if (/maxResolutionInMP/.test(msg)) {
      throw new DataTooLargeError(
        `${source}: image exceeds the ${lim.maxResolutionInMP} megapixel decode limit (${msg}); downscale it or raise maxResolutionInMP`,
        { cause: err },
      );
    }
    if (/maxMemoryUsageInMB|allocate enough memory/.test(msg)) {
      throw new DataTooLargeError(
        `${source}: decoding needs more than the ${lim.maxMemoryUsageInMB} MB memory limit (${msg}); downscale it or raise maxMemoryUsageInMB`,
        { cause: err },
      );
    }
    if (/Unsupported color mode/.test(msg)) {
      throw new UnsupportedDataError(`${source}: unsupported JPEG colour mode (${msg}); re-save it as RGB or grayscale`, { cause: err });
    }
    throw new DataFormatError(`${source}: cannot decode JPEG (${msg})`, { cause: err });
  }
  if (img.data.length !== img.width * img.height * 3 || img.width === 0 || img.height === 0) {
    throw new DataFormatError(`${source}: JPEG decoded to an unexpected size (${img.width}×${img.height})`);
  }
  return { width: img.width, height: img.height, channels: 3, data: img.data };
}

export async function readImageFile(path: string, limits?: DecodeLimits): Promise<Image> {
  return decodeJpeg(await readFileOrThrow(path, 'image file'), path, limits);
}

export type ChannelOrder = 'RGB' | 'BGR';

export interface NormalizeOptions {
  /** Channels of the tensor: 3 (colour, in `channelOrder`) or 1 (luma, ITU-R 601 as Pillow's convert('L')). */
  channels: number;
  channelOrder: ChannelOrder;
  /** One value for all channels or one per output channel (in the tensor's channel order), applied to 0..1 values. */
  mean: readonly number[];
  std: readonly number[];
}

/** Picks the per-channel value from a one-or-per-channel list, checking its length once. */
function perChannel(values: readonly number[], channels: number, what: string): number[] {
  if (values.length === 1) return new Array<number>(channels).fill(values[0]!);
  if (values.length !== channels) {
    throw new DataSpecError(`--${what} has ${values.length} values but the input has ${channels} channel(s); ${channels === 1 ? 'give 1 value' : `give 1 or ${channels}`}`);
  }
  return [...values];
}

export function checkMeanStd(mean: readonly number[], std: readonly number[], channels: number): { mean: number[]; std: number[] } {
  const m = perChannel(mean, channels, 'mean');
  const s = perChannel(std, channels, 'std');
  if (m.some((v) => !Number.isFinite(v))) throw new DataSpecError(`--mean must be finite numbers, got ${mean.join(',')}`);
  if (s.some((v) => !Number.isFinite(v) || v === 0)) throw new DataSpecError(`--std must be finite and non-zero, got ${std.join(',')}`);
  return { mean: m, std: s };
}

/**
 * Writes an HWC image (0..255 values) into `out` at `offset` as CHW planes of (x/255 - mean)/std.
 * This is the per-sample part of an NCHW batch, so a batch is filled without intermediate copies.
 */
export function writeChw(img: Image, opts: NormalizeOptions, out: Float32Array, offset = 0): void {
  const { channels } = opts;
  if (channels !== 1 && channels !== 3) throw new DataShapeError(`images can fill 1 or 3 channels, the model input has ${channels}`);
  if (img.channels !== 3) throw new DataShapeError(`expected an RGB image, got ${img.channels} channels`);
  const { mean, std } = checkMeanStd(opts.mean, opts.std, channels);
  const plane = img.width * img.height;
  if (offset + plane * channels > out.length) throw new DataShapeError('output buffer too small for the image');
  const d = img.data;
  if (channels === 1) {
    const m = mean[0]!;
    const s = std[0]!;
    for (let p = 0; p < plane; p++) {
      const l = 0.299 * d[p * 3]! + 0.587 * d[p * 3 + 1]! + 0.114 * d[p * 3 + 2]!;
      out[offset + p] = (l / 255 - m) / s;
    }
    return;
  }
  for (let ch = 0; ch < 3; ch++) {
    const srcCh = opts.channelOrder === 'BGR' ? 2 - ch : ch;
    const m = mean[ch]!;
    const s = std[ch]!;
    const base = offset + ch * plane;
    for (let p = 0; p < plane; p++) out[base + p] = (d[p * 3 + srcCh]! / 255 - m) / s;
  }
}

/** How to turn an image into a model input. Every field has a default, listed with it. */
export interface Preprocess {
  /**
   * 'crop' (default): resize the short side to `shortSide`, then centre-crop to the input's H×W (classification).
   * 'stretch': plain resize to W×H, ignoring the aspect ratio (most detectors).
   */
  resize?: 'crop' | 'stretch';
  /** Short side before the crop; default round(max(H, W) / 0.875), i.e. 256 for a 224 crop. */
  shortSide?: number;
  /** Default 'RGB'. */
  channelOrder?: ChannelOrder;
  /** Applied after scaling pixels to 0..1: (x - mean) / std. One value or one per channel. Default 0 and 1. */
  mean?: readonly number[];
  std?: readonly number[];
  /** Antialias when downscaling (Pillow's behaviour); default true. */
  antialias?: boolean;
  limits?: DecodeLimits;
}

export type ResolvedPreprocess = Required<Omit<Preprocess, 'shortSide'>> & { shortSide?: number };

export function resolvePreprocess(pre: Preprocess = {}): ResolvedPreprocess {
  const r: ResolvedPreprocess = {
    resize: pre.resize ?? 'crop',
    channelOrder: pre.channelOrder ?? 'RGB',
    mean: pre.mean ?? [0],
    std: pre.std ?? [1],
    antialias: pre.antialias ?? true,
    limits: pre.limits ?? {},
  };
  if (r.resize !== 'crop' && r.resize !== 'stretch') throw new DataSpecError(`resize mode must be 'crop' or 'stretch', got '${String(r.resize)}'`);
  if (r.channelOrder !== 'RGB' && r.channelOrder !== 'BGR') {
    throw new DataSpecError(`channel order must be RGB or BGR, got '${String(r.channelOrder)}'`);
  }
  if (pre.shortSide !== undefined) {
    if (!Number.isSafeInteger(pre.shortSide) || pre.shortSide < 1) throw new DataSpecError(`short side must be a positive integer, got ${pre.shortSide}`);
    r.shortSide = pre.shortSide;
  }
  return r;
}

/** Target of the preprocessing: the C, H, W of the model input. */
export interface ImageTarget {
  channels: number;
  height: number;
  width: number;
}

/** Resizes/crops an image to the target H×W following `pre`; the result is still HWC, 0..255. */
export function fitImage(img: Image, target: ImageTarget, pre: ResolvedPreprocess): Image {
  if (pre.resize === 'stretch') {
    if (img.width === target.width && img.height === target.height) return img;
    return resizeBilinear(img, target.width, target.height, { antialias: pre.antialias });
  }
  const short = pre.shortSide ?? Math.round(Math.max(target.height, target.width) / 0.875);
  if (short < Math.max(target.height, target.width)) {
    throw new DataSpecError(`short side ${short} is smaller than the ${target.width}×${target.height} crop; use at least ${Math.max(target.height, target.width)}`);
  }
  return centerCrop(resizeShortSide(img, short, { antialias: pre.antialias }), target.width, target.height);
}

/** The whole pipeline for one image: fit to H×W, then write normalised CHW values into `out` at `offset`. */
export function preprocessImage(img: Image, target: ImageTarget, pre: Preprocess | ResolvedPreprocess, out?: Float32Array, offset = 0): Float32Array {
  const r = resolvePreprocess(pre);
  const buf = out ?? new Float32Array(target.channels * target.height * target.width);
  writeChw(fitImage(img, target, r), { channels: target.channels, channelOrder: r.channelOrder, mean: r.mean, std: r.std }, buf, offset);
  return buf;
}
