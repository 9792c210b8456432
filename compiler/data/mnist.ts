/**
 * MNIST-style IDX files (LeCun's format, also used by Fashion-MNIST/KMNIST): a directory holding
 * `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]` (the dotted `…-images.idx3-ubyte` spelling
 * of some mirrors is accepted too). Whether a file is gzipped is decided by its magic bytes, not its name.
 *
 * IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dims, then each dim as a big-endian
 * uint32, then the data row-major. Images are 3-D [count, rows, cols], labels 1-D [count].
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { DataEmptyError, DataFormatError, DataSpecError } from './errors.js';
import { listDirectory, readFileOrThrow } from './files.js';

const gunzipAsync = promisify(gunzip);

export type MnistSplit = 't10k' | 'train';

export interface MnistData {
  split: MnistSplit;
  count: number;
  rows: number;
  cols: number;
  /** All images, row-major, `count * rows * cols` bytes, 0 = background, 255 = ink. */
  pixels: Uint8Array;
  labels: Uint8Array;
  imagesPath: string;
  labelsPath: string;
  /** Image i as a rows×cols view into `pixels` (no copy). */
  image(i: number): Uint8Array;
  samples(): Generator<{ image: Uint8Array; label: number }>;
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Decodes an (already gunzipped) IDX file of unsigned bytes and checks its size against its header. */
export function parseIdx(bytes: Uint8Array, source: string, expectedRank?: number): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataFormatError(`${source}: not an IDX file (bad magic number)`);
  }
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (type !== 0x08) {
    throw new DataFormatError(`${source}: IDX element type 0x${type.toString(16).padStart(2, '0')} is not unsigned byte (0x08)`);
  }
  if (expectedRank !== undefined && rank !== expectedRank) {
    const magic = `0x0000${type.toString(16).padStart(2, '0')}${rank.toString(16).padStart(2, '0')}`;
    throw new DataFormatError(`${source}: IDX magic ${magic} means ${rank}-D data, expected ${expectedRank}-D (0x0000080${expectedRank})`);
  }
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) throw new DataFormatError(`${source}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < rank; k++) {
    const d = view.getUint32(4 + 4 * k, false);
    dims.push(d);
    count *= d;
  }
  const available = bytes.length - headerLen;
  if (available !== count) {
    throw new DataFormatError(
      `${source}: IDX header says [${dims.join(', ')}] = ${count} bytes of data but the file has ${available}${available < count ? ' (truncated?)' : ''}`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const raw = await readFileOrThrow(path, 'MNIST file');
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      const buf = await gunzipAsync(raw);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw new DataFormatError(`${path}: corrupt gzip data (${(err as Error).message})`, { cause: err });
    }
  }
  return raw;
}

/** Finds `<split>-<kind>-idxN-ubyte` (or the dotted spelling), gzipped or not, in a directory listing. */
function findIdx(names: readonly string[], split: MnistSplit, kind: 'images' | 'labels'): string | undefined {
  const rank = kind === 'images' ? 3 : 1;
  const candidates = [`${split}-${kind}-idx${rank}-ubyte`, `${split}-${kind}.idx${rank}-ubyte`];
  for (const c of candidates) for (const ext of ['.gz', '']) if (names.includes(c + ext)) return c + ext;
  return undefined;
}

/** The splits present in a directory, test set first. */
export async function mnistSplits(dir: string): Promise<MnistSplit[]> {
  const names = (await listDirectory(dir, 'MNIST directory')).filter((e) => e.isFile).map((e) => e.name);
  return (['t10k', 'train'] as const).filter((s) => findIdx(names, s, 'images') && findIdx(names, s, 'labels'));
}

/**
 * Reads one split of an MNIST directory. Without `split`, the test set (t10k) is used if present, else train:
 * evaluation wants held-out data, and a directory with only the training files still works.
 */
export async function readMnist(dir: string, split?: MnistSplit): Promise<MnistData> {
  if (split !== undefined && split !== 't10k' && split !== 'train') throw new DataSpecError(`MNIST split must be 't10k' or 'train', got '${String(split)}'`);
  const entries = await listDirectory(dir, 'MNIST directory');
  const names = entries.filter((e) => e.isFile).map((e) => e.name);
  if (names.length === 0) throw new DataEmptyError(`MNIST directory is empty: ${dir}`);
  const chosen = split ?? (['t10k', 'train'] as const).find((s) => findIdx(names, s, 'images') && findIdx(names, s, 'labels'));
  const imagesName = chosen && findIdx(names, chosen, 'images');
  const labelsName = chosen && findIdx(names, chosen, 'labels');
  if (!chosen || !imagesName || !labelsName) {
    const which = split ? `${split}-images-idx3-ubyte[.gz] and ${split}-labels-idx1-ubyte[.gz]` : 't10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (or train-…)';
    throw new DataEmptyError(`no MNIST files in ${dir}: expected ${which}`);
  }
  const imagesPath = join(dir, imagesName);
  const labelsPath = join(dir, labelsName);
  const [imgBytes, lblBytes] = await Promise.all([readMaybeGzip(imagesPath), readMaybeGzip(labelsPath)]);
  const images = parseIdx(imgBytes, imagesPath, 3);
  const labels = parseIdx(lblBytes, labelsPath, 1);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new DataFormatError(`${dir}: ${count} images but ${labels.dims[0]} labels; the two files are from different sets`);
  }
  if (count === 0 || rows === 0 || cols === 0) throw new DataEmptyError(`${imagesPath}: holds no images`);
  const pixels = images.data;
  const imageSize = rows * cols;
  return {
    split: chosen,
    count,
    rows,
    cols,
    pixels,
    labels: labels.data,
    imagesPath,
    labelsPath,
    image(i: number): Uint8Array {
      if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`MNIST image index ${i} out of range 0..${count - 1}`);
      return pixels.subarray(i * imageSize, (i + 1) * imageSize);
    },
    *samples() {
      for (let i = 0; i < count; i++) yield { image: pixels.subarray(i * imageSize, (i + 1) * imageSize), label: labels.data[i]! };
    },
  };
}
