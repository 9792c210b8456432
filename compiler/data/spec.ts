/**
 * `--data <spec>` for `lowrank eval` and `--calib <spec>` for `lowrank compile`: turns `mnist:<dir>`,
 * `imagenet:<dir>`, `images:<dir>` or `tensors:<dir>` plus options into a Dataset that yields input batches
 * shaped for the model, with labels when the data set has them. feedBatches (feeds.ts) turns any of them into
 * named model inputs.
 *
 * Samples are in a fixed, sorted order; `offset` and `limit` take a contiguous slice of it, so disjoint
 * calibration and evaluation splits are just two non-overlapping (offset, limit) pairs.
 */
import { join, resolve } from 'node:path';
import { DataEmptyError, DataShapeError, DataSpecError } from './errors.js';
import { listDirectory, readFileOrThrow } from './files.js';
import { checkMeanStd, decodeJpeg, preprocessImage, resolvePreprocess, type ImageTarget, type Preprocess } from './image.js';
import { IMAGENET_CROP, IMAGENET_MEAN, IMAGENET_STD, isJpegName, listImagenet, readSynsets } from './imagenet.js';
import { IMAGENET_SYNSETS } from './imagenet-synsets.js';
import { readMnist, type MnistSplit } from './mnist.js';
import { formatShape, type HostTensor } from './tensor.js';
import type { ModelInput } from './tensor-file.js';
import { listTensorSamples, tensorBatches } from './tensors.js';
import type { Batch, Dataset, DataScheme } from './dataset.js';
import { readStsFile, readTextFile, sentenceFeeds, sparseInputNames, type SentencePieceTokenizer } from './text.js';

export { feedBatches } from './feeds.js';
export type { Batch, Dataset, DataScheme } from './dataset.js';

export const DATA_SCHEMES: readonly DataScheme[] = ['mnist', 'imagenet', 'images', 'tensors', 'sts', 'text'];

export interface DataSpec {
  scheme: DataScheme;
  /** The directory (sts:, text: a file) as written in the spec (relative paths are resolved against the working directory on open). */
  dir: string;
}

export interface DataOptions extends Preprocess {
  /**
   * The model input's shape, which the batches are shaped to: [N, C, H, W] or [C, H, W] for images;
   * for MNIST also [N, H*W] (e.g. [N, 784]). Symbolic dims are strings (or negative numbers).
   * tensors: data ignores it.
   */
  layout: ReadonlyArray<number | string>;
  /**
   * tensors only: the model's inputs, which `batches()` reads the files for. feedBatches passes them itself,
   * so calibration does not need this; `batches()` without it is an error.
   */
  inputs?: ReadonlyArray<ModelInput>;
  /** imagenet only: a synset file whose line order gives the class indices (default: the standard 1000 classes). */
  labels?: string;
  /** First sample of the slice (default 0). */
  offset?: number;
  /** Most samples in the slice (default: all from offset on). */
  limit?: number;
  /** mnist only: which files to read; default t10k if present, else train. */
  split?: MnistSplit;
  /** sts: and text: only: the model's tokenizer (compiler/data/text.ts loadVocabulary finds it). */
  tokenizer?: SentencePieceTokenizer;
  /**
   * imagenet:/images: only (`--size HxW`): the image size for a model input whose height or width is symbolic
   * (an OCR recogniser's [N, 3, 48, W]); a fixed dim must agree with it.
   */
  size?: { height: number; width: number };
}

const SPEC_HELP = 'use mnist:<dir>, imagenet:<dir>, images:<dir>, tensors:<dir>, sts:<file.csv> or text:<file>';

/** Splits `scheme:dir`. Only the first colon separates, so directory names may contain colons. */
export function parseDataSpec(spec: string): DataSpec {
  const colon = spec.indexOf(':');
  if (colon < 0) throw new DataSpecError(`data spec '${spec}' has no scheme; ${SPEC_HELP}`);
  const scheme = spec.slice(0, colon).trim().toLowerCase();
  const dir = spec.slice(colon + 1).trim();
  if (!(DATA_SCHEMES as readonly string[]).includes(scheme)) {
    throw new DataSpecError(`unknown data scheme '${scheme}' in '${spec}'; ${SPEC_HELP}`);
  }
  if (dir === '') throw new DataSpecError(`data spec '${spec}' names no ${scheme === 'sts' || scheme === 'text' ? 'file' : 'directory'}; ${SPEC_HELP}`);
  return { scheme: scheme as DataScheme, dir };
}

/** Whether a spec is sentence data (sts:, text:), which needs the model's tokenizer instead of image options. */
export function isTextSpec(spec: string): boolean {
  const scheme = parseDataSpec(spec).scheme;
  return scheme === 'sts' || scheme === 'text';
}

function isFixed(d: number | string | undefined): d is number {
  return typeof d === 'number' && d >= 0;
}

/** Validates offset/limit against the data set size and returns the slice. */
function selectSlice(total: number, options: DataOptions, what: string): { offset: number; size: number } {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new DataSpecError(`--offset must be a non-negative integer, got ${offset}`);
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1)) {
    throw new DataSpecError(`--limit must be a positive integer, got ${options.limit}`);
  }
  if (offset >= total) throw new DataEmptyError(`--offset ${offset} is past the end of ${what} (${total} samples)`);
  const size = Math.min(options.limit ?? Infinity, total - offset);
  return { offset, size };
}

function sliceText(offset: number, size: number, total: number): string {
  return offset === 0 && size === total ? `${total} samples` : `samples ${offset}..${offset + size - 1} of ${total}`;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new DataSpecError(`batch size must be a positive integer, got ${batchSize}`);
}

function rejectOption(options: DataOptions, key: keyof DataOptions, scheme: DataScheme, hint: string): void {
  if (options[key] !== undefined) throw new DataSpecError(`--${key} does not apply to ${scheme}: data (${hint})`);
}

/** The [C, H, W] that image batches are made of, from an [N, C, H, W] or [C, H, W] model input. */
function imageTarget(layout: ReadonlyArray<number | string>, scheme: DataScheme, size?: DataOptions['size']): ImageTarget {
  if (layout.length !== 4 && layout.length !== 3) {
    throw new DataShapeError(`model input ${formatShape(layout)} is not [N, C, H, W]; ${scheme}: data needs an image input`);
  }
  const [c, h, w] = layout.slice(-3);
  if (isFixed(c) && c !== 1 && c !== 3) {
    const nhwc = w === 3 || w === 1;
    throw new DataShapeError(`model input ${formatShape(layout)} has ${c} channels; images fill 1 or 3${nhwc ? ' (it looks like NHWC; only NCHW is supported)' : ''}`);
  }
  let height: number;
  let width: number;
  if (size) {
    for (const [name, dim, want] of [['height', h, size.height], ['width', w, size.width]] as const) {
      if (isFixed(dim) && dim !== want) throw new DataShapeError(`model input ${formatShape(layout)} has a fixed ${name} of ${dim}, but --size asks for ${want}; leave --size out or match it`);
    }
    ({ height, width } = size);
  } else if (isFixed(h) && isFixed(w)) {
    height = h;
    width = w;
  } else if (scheme === 'imagenet' && !isFixed(h) && !isFixed(w)) {
    height = width = IMAGENET_CROP; // a fully convolutional classifier: use the standard ImageNet crop
  } else {
    throw new DataShapeError(`model input ${formatShape(layout)} has a symbolic height or width; give the size to resize images to with --size HxW (e.g. --size ${isFixed(h) ? h : 48}x${isFixed(w) ? w : 320})`);
  }
  return { channels: isFixed(c) ? c : 3, height, width };
}

/** Opens a data spec; checks everything that can be checked up front, so errors appear before a long run starts. */
export async function openDataset(spec: string, options: DataOptions): Promise<Dataset> {
  const parsed = parseDataSpec(spec);
  const dir = resolve(parsed.dir);
  if (!Array.isArray(options.layout)) throw new DataSpecError('dataset options need the model input shape (layout)');
  switch (parsed.scheme) {
    case 'mnist':
      return openMnist(dir, options);
    case 'imagenet':
      return openImages(dir, options, 'imagenet');
    case 'images':
      return openImages(dir, options, 'images');
    case 'tensors':
      return openTensors(dir, options);
    case 'sts':
    case 'text':
      return openText(dir, options, parsed.scheme);
  }
}

async function openMnist(dir: string, options: DataOptions): Promise<Dataset> {
  rejectOption(options, 'labels', 'mnist', 'MNIST labels come from its labels file');
  rejectOption(options, 'size', 'mnist', 'MNIST images are used at their own size');
  for (const k of ['resize', 'shortSide', 'channelOrder'] as const) rejectOption(options, k, 'mnist', 'MNIST images are used at their own size');
  const mnist = await readMnist(dir, options.split);
  const { rows, cols } = mnist;
  const layout = options.layout;
  // Per-sample dims: [1, rows, cols] for image inputs, [rows*cols] for flat ones.
  let sampleDims: number[];
  const fits = (d: number | string | undefined, v: number) => !isFixed(d) || d === v;
  if ((layout.length === 4 || layout.length === 3) && fits(layout.at(-3), 1) && fits(layout.at(-2), rows) && fits(layout.at(-1), cols)) {
    sampleDims = [1, rows, cols];
  } else if (layout.length === 2 && fits(layout[1], rows * cols)) {
    sampleDims = [rows * cols];
  } else {
    throw new DataShapeError(
      `model input ${formatShape(layout)} does not fit ${rows}×${cols} MNIST images; expected [N, 1, ${rows}, ${cols}] or [N, ${rows * cols}]`,
    );
  }
  const { mean, std } = checkMeanStd(options.mean ?? [0], options.std ?? [1], 1);
  // (x/255 - mean)/std for each of the 256 pixel values, computed once.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean[0]!) / std[0]!;
  const { offset, size } = selectSlice(mnist.count, options, `mnist:${dir}`);
  const px = rows * cols;
  return {
    scheme: 'mnist',
    dir,
    size,
    total: mnist.count,
    offset,
    labelled: true,
    description: `mnist ${mnist.split} ${dir}: ${sliceText(offset, size, mnist.count)}, ${rows}×${cols}`,
    async *batches(batchSize: number) {
      checkBatchSize(batchSize);
      for (let start = 0; start < size; start += batchSize) {
        const b = Math.min(batchSize, size - start);
        const first = offset + start;
        const data = new Float32Array(b * px);
        const src = mnist.pixels.subarray(first * px, (first + b) * px);
        for (let k = 0; k < src.length; k++) data[k] = lut[src[k]!]!;
        const labels = Int32Array.from(mnist.labels.subarray(first, first + b));
        yield { input: { dataType: 'float32', dims: [b, ...sampleDims], data }, labels, start };
      }
    },
  };
}

async function openImages(dir: string, options: DataOptions, scheme: 'imagenet' | 'images'): Promise<Dataset> {
  rejectOption(options, 'split', scheme, 'only mnist: data has splits');
  const target = imageTarget(options.layout, scheme, options.size);
  let files: string[];
  let labels: Int32Array | undefined;
  let classes: readonly string[] | undefined;
  if (scheme === 'imagenet') {
    classes = options.labels !== undefined ? await readSynsets(options.labels) : IMAGENET_SYNSETS;
    const listed = await listImagenet(dir, classes, options.labels ?? 'the built-in 1000-class list');
    files = listed.files;
    labels = listed.labels;
  } else {
    rejectOption(options, 'labels', 'images', 'images: data is unlabelled; use imagenet:<dir> for labelled folders');
    const entries = await listDirectory(dir, 'image directory');
    files = entries.filter((e) => e.isFile && isJpegName(e.name)).map((e) => join(dir, e.name));
    if (files.length === 0) {
      const others = entries.filter((e) => e.isFile && /\.(png|bmp|gif|webp|tiff?)$/i.test(e.name)).length;
      throw new DataEmptyError(`no JPEG images in ${dir}${others ? ` (${others} other image files: only JPEG is supported)` : ''}`);
    }
  }
  // ImageNet models expect ImageNet normalisation (defined for RGB only); for unlabelled images and for
  // 1-channel models there is no standard, so 0..1.
  const imagenetDefaults = scheme === 'imagenet' && target.channels === 3;
  const pre = resolvePreprocess({
    ...options,
    mean: options.mean ?? (imagenetDefaults ? IMAGENET_MEAN : [0]),
    std: options.std ?? (imagenetDefaults ? IMAGENET_STD : [1]),
  });
  checkMeanStd(pre.mean, pre.std, target.channels); // fail now, not at the first batch
  const { offset, size } = selectSlice(files.length, options, `${scheme}:${dir}`);
  const per = target.channels * target.height * target.width;
  return {
    scheme,
    dir,
    size,
    total: files.length,
    offset,
    labelled: labels !== undefined,
    ...(classes ? { classes } : {}),
    description: `${scheme} ${dir}: ${sliceText(offset, size, files.length)}, ${target.channels}×${target.height}×${target.width}`,
    async *batches(batchSize: number) {
      checkBatchSize(batchSize);
      for (let start = 0; start < size; start += batchSize) {
        const b = Math.min(batchSize, size - start);
        const first = offset + start;
        const paths = files.slice(first, first + b);
        // Read the batch's files concurrently; decoding is synchronous CPU work anyway.
        const contents = await Promise.all(paths.map((p) => readFileOrThrow(p, 'image file')));
        const data = new Float32Array(b * per);
        contents.forEach((bytes, k) => preprocessImage(decodeJpeg(bytes, paths[k], pre.limits), target, pre, data, k * per));
        const batch: Batch = { input: { dataType: 'float32', dims: [b, target.channels, target.height, target.width], data }, start };
        if (labels) batch.labels = labels.slice(first, first + b);
        yield batch;
      }
    },
  };
}

async function openTensors(dir: string, options: DataOptions): Promise<Dataset> {
  const hint = 'tensors are fed as they are';
  for (const k of ['labels', 'split', 'mean', 'std', 'resize', 'shortSide', 'channelOrder', 'size'] as const) rejectOption(options, k, 'tensors', hint);
  const all = await listTensorSamples(dir);
  const { offset, size } = selectSlice(all.length, options, `tensors:${dir}`);
  const paths = all.slice(offset, offset + size);
  return {
    scheme: 'tensors',
    dir,
    size,
    total: all.length,
    offset,
    labelled: false,
    samplePaths: paths,
    description: `tensors ${dir}: ${sliceText(offset, size, all.length)}`,
    async *batches(batchSize: number) {
      checkBatchSize(batchSize);
      const inputs = options.inputs;
      if (!inputs || inputs.length === 0) throw new DataSpecError('tensors: data needs the model inputs to read its files (pass inputs to openDataset)');
      for await (const b of tensorBatches(paths, inputs, batchSize)) yield { input: b.feeds[inputs[0]!.name]!, feeds: b.feeds, start: b.start };
    },
  };
}

async function openText(file: string, options: DataOptions, scheme: 'sts' | 'text'): Promise<Dataset> {
  for (const k of ['labels', 'split', 'mean', 'std', 'resize', 'shortSide', 'channelOrder', 'size'] as const) rejectOption(options, k, scheme, 'sentences are tokenised, not preprocessed');
  const names = sparseInputNames(options.inputs, scheme);
  const tokenizer = options.tokenizer;
  if (!tokenizer) throw new DataSpecError(`${scheme}: data needs the model's vocabulary (give --vocab <vocab.json>, or put vocab.json beside the model)`);
  const pairs = scheme === 'sts' ? await readStsFile(file) : undefined;
  const lines = pairs ? undefined : await readTextFile(file);
  const total = pairs?.length ?? lines!.length;
  const { offset, size } = selectSlice(total, options, `${scheme}:${file}`);
  return {
    scheme,
    dir: file,
    size,
    total,
    offset,
    labelled: false,
    text: pairs ? 'pairs' : 'sentences',
    description: `${scheme} ${file}: ${sliceText(offset, size, total)}${pairs ? ' (sentence pairs)' : ''}`,
    async *batches(batchSize: number) {
      checkBatchSize(batchSize);
      for (let start = 0; start < size; start += batchSize) {
        const first = offset + start;
        const b = Math.min(batchSize, size - start);
        let feeds: Record<string, HostTensor>;
        let scores: Float32Array | undefined;
        if (pairs) {
          const slice = pairs.slice(first, first + b);
          const sentences = [...slice.map((p) => p.first), ...slice.map((p) => p.second)];
          feeds = sentenceFeeds(tokenizer, sentences, names, (i) => `${file}: pair ${first + (i % b)}, sentence ${i < b ? 1 : 2}`);
          scores = Float32Array.from(slice, (p) => p.score);
        } else {
          feeds = sentenceFeeds(tokenizer, lines!.slice(first, first + b), names, (i) => `${file}: sentence ${first + i}`);
        }
        yield { input: feeds[names.values]!, feeds, start, ...(scores ? { scores } : {}) };
      }
    },
  };
}
