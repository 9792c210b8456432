/**
 * Calibration: run the original model through onnxruntime-node on real inputs and accumulate, for every
 * factorable layer, the second-moment matrix G = Σ x·xᵀ (float64 sums of float32 block products, see
 * linalg/blocked-gram.ts) of the vectors x that its weight matrix M
 * multiplies (y = M·x). Whitened factorisation needs exactly this: the output error of a truncated layer on
 * the calibration data is tr(ΔM·G·ΔMᵀ).
 *
 * What x is per layer kind (see factorize/candidates.ts for M):
 *  - MatMul X[..., K]: every row of X (leading dims flattened);
 *  - Gemm A[M, K] (A[K, M] when transA = 1): every row (column) of A;
 *  - Conv (group 1): the im2col patch at every output position, flattened like the weight [O, I·k1·k2…],
 *    with zeros where the patch leaves the input. On large feature maps only a deterministic, spatially
 *    uniform subset of the positions of each image is used (see positionCap and selectPositions).
 *
 * Memory stays bounded by the largest layer: the G matrices, one batch's activations and one block of
 * gathered vectors; nothing grows with the number of samples.
 */
import * as ort from 'onnxruntime-node';
import { compilerSessionOptions } from './ort-options.js';
import { toOrtFeeds } from './ort-feeds.js';
import type { NodeDef } from '../formats/model.js';
import { onnx } from '../runtime/onnx/proto.js';
import type { Feeds } from '../runtime/tensor.js';
import { CompileError } from './errors.js';
import type { LayerCandidate } from './factorize/candidates.js';
import type { ImportedModel } from './import/onnx.js';
import { intAttr, intsAttr, stringAttr } from '../formats/attributes.js';
import { BLOCK, BlockedGram, type Vectors } from './linalg/blocked-gram.js';

export interface LayerStats {
  /** G = Σ x·xᵀ, n×n row-major, n = candidate.cols. Exactly symmetric. */
  gram: Float64Array;
  /** Number of input vectors x accumulated (after any subsampling of conv positions). */
  samples: number;
  /**
   * Number of input vectors the layer multiplied, before subsampling: rows × cols × vectors multiply-adds went
   * through it (how the sensitivity limit counts work, compiler/sensitivity-limit.ts).
   */
  vectors: number;
  /** Number of dataset samples (batch rows of the model input) that went through the model. */
  images: number;
}

export interface CalibrateOptions {
  /** Called after every batch with the dataset samples done so far (and `total` when given). */
  onProgress?: (done: number, total?: number) => void;
  /** Dataset samples the feeds will yield, passed on to onProgress. */
  total?: number;
  /**
   * Most conv output positions accumulated per image and layer; Infinity accumulates every position.
   * Default: per layer, positionCap(n) (about 2e8 multiply-adds per layer per image, at least 1024 positions).
   */
  maxPositionsPerImage?: number;
}

/**
 * Conv subsampling budget. Accumulating one x costs n² multiply-adds (about n²/2 in the kernel, which computes
 * the lower triangle in panels), so a full-resolution conv is expensive: 50,176 positions × 576² ≈ 1.7e10 per
 * image for a 64-channel 3×3 conv at 224×224, ~1 s even on onnxruntime's Gemm. Neighbouring patches overlap and
 * are strongly correlated, so a uniform subset of positions estimates G/samples nearly as well. The cap keeps
 * positions·n² ≤ 2e8 per layer per image, but never goes below 1024 positions, so every image still contributes
 * a dense, spatially spread sample even for wide layers (n = 576: 1024 positions). Layers with at most the
 * cap are never subsampled: MatMul/Gemm rows, and convs on small maps (e.g. 7×7, 14×14, or 56×56 at n ≤ 96).
 */
const POSITION_BUDGET = 2e8;
const MIN_POSITIONS = 1024;

/** Default cap on the conv output positions accumulated per image for patches of n components. */
export function positionCap(n: number): number {
  return Math.max(MIN_POSITIONS, Math.floor(POSITION_BUDGET / (n * n)));
}

/**
 * Streams `feeds` through the model once and returns the statistics of every candidate, keyed by node name.
 * Candidates that multiply the same vectors (e.g. Q, K and V projections of one input) share one LayerStats.
 */
export async function collectLayerStats(
  source: Uint8Array,
  model: ImportedModel,
  candidates: LayerCandidate[],
  feeds: AsyncIterable<Feeds>,
  options: CalibrateOptions = {},
): Promise<Map<string, LayerStats>> {
  if (candidates.length === 0) return new Map();
  const cap = options.maxPositionsPerImage;
  if (cap !== undefined && !(cap >= 1)) throw new Error(`calibration: maxPositionsPerImage must be at least 1, got ${cap}`);
  const accumulators = new Map<string, LayerAccumulator>();
  const byLayer = new Map<string, LayerAccumulator>();
  for (const c of candidates) {
    const vectors = layerVectors(c, cap === undefined ? positionCap(c.cols) : Math.floor(cap));
    let acc = accumulators.get(vectors.key);
    if (!acc) accumulators.set(vectors.key, (acc = new LayerAccumulator(c.node.name, c.cols, vectors)));
    byLayer.set(c.node.name, acc);
  }
  const graphInputs = new Set(model.inputs.map((i) => i.name));
  const fetched = [...new Set([...accumulators.values()].map((a) => a.input))].filter((n) => !graphInputs.has(n));
  const images = countImages(model);

  const session = await ort.InferenceSession.create(withOutputs(source, fetched), compilerSessionOptions());
  let done = 0;
  let batches = 0;
  try {
    for await (const batch of feeds) {
      const ortFeeds = toOrtFeeds(batch);
      const results = fetched.length > 0 ? await run(session, ortFeeds, fetched, batches) : {};
      batches++;
      try {
        for (const acc of accumulators.values()) {
          const t = results[acc.input] ?? ortFeeds[acc.input];
          if (!t) throw new Error(`calibration: the feeds have no '${acc.input}', the input of ${acc.layer}`);
          if (t.type !== 'float32') throw new Error(`calibration: input '${acc.input}' of ${acc.layer} is ${t.type}, expected float32`);
          await acc.add(t.data as Float32Array, t.dims as number[]);
        }
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
      done += images(batch);
      options.onProgress?.(done, options.total);
    }
  } finally {
    await session.release();
  }

  const stats = new Map<LayerAccumulator, LayerStats>();
  for (const acc of accumulators.values()) stats.set(acc, await acc.finish(done));
  return new Map([...byLayer].map(([name, acc]) => [name, stats.get(acc)!]));
}

/** session.run with a one-line error that says which batch failed: usually data that does not fit the model. */
async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches: string[], index: number): Promise<ort.InferenceSession.ReturnType> {
  try {
    return await session.run(feeds, fetches);
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0].trim();
    throw new CompileError(`calibration batch ${index + 1}: onnxruntime could not run the model (${reason}); check that the data fits the model's inputs`, 'calibration-run');
  }
}

/** The source model with `names` added to the graph outputs (an elem type suffices; ORT infers the shape). */
export function withOutputs(source: Uint8Array, names: string[]): Uint8Array {
  const proto = onnx.ModelProto.decode(source);
  const graph = proto.graph!;
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  for (const name of names) {
    if (outputs.has(name)) continue;
    // Every candidate has a float32 weight, and MatMul/Gemm/Conv take both operands in one type.
    graph.output!.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  }
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * How many dataset samples one feeds dict holds: dim 0 of the first input whose declared dim 0 is symbolic
 * (a batch dimension), else 1 (a fixed-shape model sees one sample per run).
 */
export function countImages(model: ImportedModel): (feeds: Feeds) => number {
  const batched = model.inputs.find((i) => i.shape.length > 0 && !(typeof i.shape[0] === 'number' && i.shape[0] >= 0));
  return (feeds) => (batched && feeds[batched.name] ? (feeds[batched.name].dims[0] ?? 1) : 1);
}

// ---------------------------------------------------------------------------------------------------------
// Per-layer accumulation: turn a layer's input tensor into a stream of x vectors.

/** Where a layer's x vectors come from: the tensor, and how to cut it into vectors. */
export interface LayerVectors {
  /** Name of the tensor that holds the x vectors. */
  input: string;
  /** Layers with the same key see the same x vectors and share one G. */
  key: string;
  /** The x vectors to accumulate (`runs`) and how many the layer multiplied before subsampling (`total`). */
  split(data: Float32Array, dims: number[]): { runs: Vectors[]; total: number };
}

/**
 * `maxPositions`: the most conv output positions per image (an integer ≥ 1, or Infinity). Two of these for the same
 * layer, fed the same images in the same order, pick the same positions (compiler/paired-stats.ts relies on it).
 */
export function layerVectors(c: LayerCandidate, maxPositions: number): LayerVectors {
  const input = c.node.inputs[0];
  const layer = c.node.name;
  if (c.kind === 'conv') {
    const conv = convAttributes(c.node, c.weight.dims);
    // Images seen so far by this layer: the subset of positions depends on the image's index in the whole
    // stream, so it varies from image to image but not with how the data is cut into batches.
    let seen = 0;
    return {
      input,
      key: `conv:${input}:${JSON.stringify(conv)}`,
      split: (data, dims) => {
        const patches = convPatches(data, dims, conv, layer, maxPositions, seen);
        seen += patches.runs.length;
        return patches;
      },
    };
  }
  if (c.kind === 'gemm' && intAttr(c.node, 'transA', 0) === 1) {
    return { input, key: `columns:${input}`, split: (data, dims) => single(columnVectors(data, dims, c.cols, layer)) };
  }
  return { input, key: `rows:${input}`, split: (data, dims) => single(rowVectors(data, dims, c.cols, layer)) };
}

/** MatMul and Gemm inputs are never subsampled: every vector is accumulated. */
function single(run: Vectors): { runs: Vectors[]; total: number } {
  return { runs: [run], total: run.count };
}

class LayerAccumulator {
  readonly input: string;
  private readonly gram: BlockedGram;
  private vectorsSeen = 0;

  constructor(
    /** The first layer that reads these vectors, for messages. */
    readonly layer: string,
    n: number,
    private readonly vectors: LayerVectors,
  ) {
    this.input = vectors.input;
    this.gram = new BlockedGram(n);
  }

  async add(data: Float32Array, dims: number[]): Promise<void> {
    const { runs, total } = this.vectors.split(data, dims);
    for (const run of runs) await this.gram.add(run);
    this.vectorsSeen += total;
  }

  async finish(images: number): Promise<LayerStats> {
    return { gram: await this.gram.finish(), samples: this.gram.samples, vectors: this.vectorsSeen, images };
  }
}

/** MatMul X[..., K] and Gemm A[M, K]: every row is one x (a 1-D X is a single x). */
function rowVectors(data: Float32Array, dims: number[], n: number, layer: string): Vectors {
  if (dims.at(-1) !== n) throw new Error(`calibration: ${layer} input has shape [${dims}], expected last dim ${n}`);
  return {
    count: data.length / n,
    gather(block, stride, col, from, cnt) {
      for (let b = 0; b < cnt; b++) {
        const src = (from + b) * n;
        for (let i = 0; i < n; i++) block[i * stride + col + b] = data[src + i];
      }
    },
  };
}

/** Gemm with transA = 1, A[K, M]: every column is one x. */
function columnVectors(data: Float32Array, dims: number[], n: number, layer: string): Vectors {
  if (dims.length !== 2 || dims[0] !== n) throw new Error(`calibration: ${layer} input has shape [${dims}], expected [${n}, M]`);
  const m = dims[1];
  return {
    count: m,
    gather(block, stride, col, from, cnt) {
      for (let i = 0; i < n; i++) for (let b = 0; b < cnt; b++) block[i * stride + col + b] = data[i * m + from + b];
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Convolution patches (im2col) for 1 to 3 spatial dims.

interface ConvAttributes {
  channels: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin…, end…]; only used when autoPad is NOTSET. */
  pads: number[];
  autoPad: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
}

function convAttributes(node: NodeDef, weightDims: number[]): ConvAttributes {
  const [, channels, ...kernel] = weightDims;
  const r = kernel.length;
  const ints = (name: string, fallback: number): number[] => intsAttr(node, name) ?? new Array<number>(name === 'pads' ? 2 * r : r).fill(fallback);
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER' && autoPad !== 'VALID') {
    throw new Error(`calibration: ${node.name} has unknown auto_pad '${autoPad}'`);
  }
  return { channels, kernel, strides: ints('strides', 1), dilations: ints('dilations', 1), pads: ints('pads', 0), autoPad };
}

/** Output size and leading pad of one spatial dim, as onnxruntime 1.30 computes them (checked in the tests). */
function convDim(conv: ConvAttributes, e: number, size: number): { out: number; begin: number } {
  const stride = conv.strides[e];
  const span = (conv.kernel[e] - 1) * conv.dilations[e] + 1;
  switch (conv.autoPad) {
    case 'SAME_UPPER':
    case 'SAME_LOWER': {
      const out = Math.ceil(size / stride);
      // A stride larger than the kernel can make the needed padding negative: onnxruntime pads 0 then.
      const total = Math.max(0, (out - 1) * stride + span - size);
      return { out, begin: conv.autoPad === 'SAME_LOWER' ? Math.ceil(total / 2) : Math.floor(total / 2) };
    }
    case 'VALID':
      return { out: Math.floor((size - span) / stride) + 1, begin: 0 };
    case 'NOTSET': {
      const r = conv.kernel.length;
      return { out: Math.floor((size + conv.pads[e] + conv.pads[r + e] - span) / stride) + 1, begin: conv.pads[e] };
    }
  }
}

/**
 * The patches of X[N, C, s1, s2, s3], one run per image. Fewer spatial dims are treated as leading dims of
 * size 1 (kernel 1, stride 1, no pad), so one code path serves Conv1d, 2d and 3d. Row of a patch component:
 * c·taps + tap with tap = (t1·k2 + t2)·k3 + t3, the flattening of the weight [O, C, k1, k2, k3]. `total`: every
 * output position of every image, subsampled or not.
 */
function convPatches(data: Float32Array, dims: number[], conv: ConvAttributes, layer: string, maxPositions: number, firstImage: number): { runs: Vectors[]; total: number } {
  const r = conv.kernel.length;
  if (dims.length !== r + 2 || dims[1] !== conv.channels) {
    throw new Error(`calibration: ${layer} input has shape [${dims}], expected [N, ${conv.channels}, …] with ${r} spatial dims`);
  }
  const lead = 3 - r;
  const size: number[] = [];
  const k: number[] = [];
  // coord[d][o·k + t]: the input coordinate that output o reads with tap t along dim d, or -1 in the padding.
  const coord: Int32Array[] = [];
  const out: number[] = [];
  for (let d = 0; d < 3; d++) {
    const e = d - lead;
    size.push(e < 0 ? 1 : dims[2 + e]);
    k.push(e < 0 ? 1 : conv.kernel[e]);
    const { out: o, begin } = e < 0 ? { out: 1, begin: 0 } : convDim(conv, e, size[d]);
    if (o < 1) throw new Error(`calibration: ${layer} input [${dims}] is smaller than its kernel`);
    const stride = e < 0 ? 1 : conv.strides[e];
    const dilation = e < 0 ? 1 : conv.dilations[e];
    const table = new Int32Array(o * k[d]);
    for (let p = 0; p < o; p++) {
      for (let t = 0; t < k[d]; t++) {
        const x = p * stride - begin + t * dilation;
        table[p * k[d] + t] = x >= 0 && x < size[d] ? x : -1;
      }
    }
    coord.push(table);
    out.push(o);
  }
  const [k1, k2, k3] = k;
  const taps = k1 * k2 * k3;
  const plane = size[0] * size[1] * size[2];
  const channels = conv.channels;
  // Spatial offset of every tap at every position of one gather (≤ BLOCK positions), or -1: shared by all channels.
  const offsets = new Int32Array(taps * BLOCK);
  const positions = out[0] * out[1] * out[2];
  const count = Math.min(positions, maxPositions);
  const runs: Vectors[] = [];
  for (let img = 0; img < dims[0]; img++) {
    const position = selectPositions(positions, count, firstImage + img);
    runs.push({
      count,
      gather(block, stride, col, from, cnt) {
        for (let b = 0; b < cnt; b++) {
          const p = position(from + b);
          const p3 = p % out[2];
          const p2 = Math.floor(p / out[2]) % out[1];
          const p1 = Math.floor(p / (out[1] * out[2]));
          for (let t1 = 0; t1 < k1; t1++) {
            const x1 = coord[0][p1 * k1 + t1];
            for (let t2 = 0; t2 < k2; t2++) {
              const x2 = coord[1][p2 * k2 + t2];
              for (let t3 = 0; t3 < k3; t3++) {
                const x3 = coord[2][p3 * k3 + t3];
                offsets[((t1 * k2 + t2) * k3 + t3) * BLOCK + b] = x1 < 0 || x2 < 0 || x3 < 0 ? -1 : (x1 * size[1] + x2) * size[2] + x3;
              }
            }
          }
        }
        for (let c = 0; c < channels; c++) {
          const base = (img * channels + c) * plane;
          for (let tap = 0; tap < taps; tap++) {
            const row = (c * taps + tap) * stride + col;
            const o = tap * BLOCK;
            for (let b = 0; b < cnt; b++) {
              const off = offsets[o + b];
              block[row + b] = off < 0 ? 0 : data[base + off];
            }
          }
        }
      },
    });
  }
  return { runs, total: dims[0] * positions };
}

/**
 * The j-th of `count` positions out of [0, positions) for image `image`: stratified sampling of the flattened
 * (row-major) output positions. Stratum j is [⌊j·P/count⌋, ⌊(j+1)·P/count⌋), contiguous and non-empty, and
 * one position is drawn from it by a hash of (image, j): exactly `count` distinct positions spread evenly over
 * the map (each stratum is a short run along a row), no aliasing with periodic image structure, a different
 * subset for every image, and the same subset on every compile. The identity when count = positions.
 */
export function selectPositions(positions: number, count: number, image: number): (j: number) => number {
  if (count >= positions) return (j) => j;
  return (j) => {
    const start = Math.floor((j * positions) / count);
    const width = Math.floor(((j + 1) * positions) / count) - start;
    return start + Math.floor(hash01(image, j) * width);
  };
}

/** A uniform number in [0, 1) from two non-negative integers (a murmur3-style 32-bit mix). */
function hash01(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}
