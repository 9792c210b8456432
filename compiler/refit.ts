/**
 * Refit: closed-form least squares of each factored layer's left factor A (and bias) against the ORIGINAL
 * layer's outputs, with the layer's inputs taken from the compressed model. With h = B·x̃ the output of the
 * layer's first factor node in the compressed model (x̃ carries the error of every compressed layer upstream)
 * and y the original layer's output on the same sample:
 *
 *     [A b] = argmin Σ‖A·h + b − y‖² + λ‖[A b] − [A₀ b₀]‖²  =  (Σ y·h̄ᵀ + λ[A₀ b₀]) · (Σ h̄·h̄ᵀ + λI)⁻¹,  h̄ = [h; 1]
 *
 * B stays as stored (it is the nested part every tier shares); A and b are per tier. The ridge pulls towards
 * [A₀ b₀], the stored factors in the first sweep and the previous sweep's refit after that, with
 * λ = tr(Σ h̄·h̄ᵀ)/N for N vectors, the same shrinkage as shrunkSecondMoment: it
 * vanishes for convolutions that see thousands of positions per image and holds layers after global pooling
 * (one vector per image) near their whitened SVD. Error compensation is sequential in effect: each sweep
 * measures h with the refits of the previous sweep in place, so after sweep k the first k layers of any chain
 * have seen their refitted upstream.
 *
 * Nonlinear reconstruction (mode 'nonlinear', the default; Zhang et al. 2015's asymmetric reconstruction in
 * closed form): when the layer's output goes through Relu or Clip (directly, or after an Add of a constant
 * bias), what downstream sees is f(y), not y. Errors the activation removes should cost nothing, so the target
 * of each value is y where f is not clamped there, and otherwise the nearest value the activation maps to the
 * same output, starting from what the compressed layer gives now (z): for y at or below the lower bound the
 * target is min(z, lo), at or above the upper bound max(z, hi). Each sweep re-derives the targets from the
 * previous sweep's refit (alternating projection), so a few sweeps converge.
 */
import * as ort from 'onnxruntime-node';
import { compilerSessionOptions } from './ort-options.js';
import { toOrtFeeds } from './ort-feeds.js';
import { DataType, type ModelHeader, type NodeDef } from '../formats/model.js';
import { float32Copy, gatherFactors, type LayerRefit } from '../runtime/factors.js';
import { buildOnnxModel, middleTensorName } from '../runtime/onnx/build-model.js';
import type { Feeds } from '../runtime/tensor.js';
import { selectPositions, withOutputs } from './calibrate.js';
import { CompileError } from './errors.js';
import { BlockedGram, type Vectors } from './linalg/blocked-gram.js';
import { choleskyWithRidge, solveCholesky } from './linalg/cholesky.js';

/** Most conv output positions per image and layer that a refit accumulates. */
const REFIT_POSITIONS = 256;

export type RefitMode = 'nonlinear' | 'linear';

export interface RefitOptions {
  /** Passes over the calibration data (default 2). */
  sweeps?: number;
  /** 'nonlinear' (default): match outputs after a following Relu/Clip; 'linear': match the raw outputs. */
  mode?: RefitMode;
  onProgress?: (done: number, total: number, detail: string) => void;
}

/**
 * Refits for one rank per layer (a tier's ranks). `source` is the original ONNX model, `header`/`payload` the
 * compiled file (the payload must hold every component up to `ranks`), `calibration` returns a fresh pass over
 * the calibration feeds each time it is called. Layers at rank 0 get no refit (undefined).
 */
export async function refitRanks(
  source: Uint8Array,
  header: ModelHeader,
  payload: Uint8Array,
  ranks: number[],
  calibration: () => AsyncIterable<Feeds>,
  options: RefitOptions = {},
): Promise<Array<LayerRefit | undefined>> {
  const sweeps = options.sweeps ?? 2;
  const layers = header.layers.map((layer, i) => ({ layer, node: header.graph.nodes[layer.nodeIndex], rank: ranks[i] }));
  const active = layers.map((l, i) => ({ ...l, index: i })).filter((l) => l.rank > 0);
  let refits: Array<LayerRefit | undefined> = layers.map(() => undefined);
  const activations = active.map((l) => ((options.mode ?? 'nonlinear') === 'nonlinear' ? followingActivation(header, payload, l.node, l.layer.rows) : undefined));
  const original = await createSession(withOutputs(source, [...new Set(active.map((l) => l.node.outputs[0]))]), 'the original model');
  try {
    for (let sweep = 0; sweep < sweeps; sweep++) {
      options.onProgress?.(sweep, sweeps, `sweep ${sweep + 1}/${sweeps}`);
      const compressed = buildOnnxModel(header, payload, ranks, { refits, alwaysFactored: true });
      const fetched = active.flatMap((l, k) => [middleTensorName(l.node, l.rank), ...(activations[k] ? [l.node.outputs[0]] : [])]);
      const session = await createSession(withOutputs(compressed, fetched), 'the compressed model');
      const accumulators = active.map((l, k) => new RefitAccumulator(l.node, l.layer.kind, l.rank, l.layer.rows, biasTensor(header, l.node, l.layer.rows) !== undefined, activations[k]));
      try {
        let images = 0;
        for await (const feeds of calibration()) {
          const ortFeeds = toOrtFeeds(feeds);
          const [want, got] = await Promise.all([original.run(ortFeeds), session.run(ortFeeds)]);
          for (const [k, l] of active.entries()) {
            const y = want[l.node.outputs[0]];
            const h = got[middleTensorName(l.node, l.rank)];
            const z = activations[k] ? (got[l.node.outputs[0]].data as Float32Array) : undefined;
            await accumulators[k].add(h.data as Float32Array, h.dims as number[], y.data as Float32Array, y.dims as number[], images, z);
          }
          images += Number(Object.values(feeds)[0]?.dims[0] ?? 1);
        }
      } finally {
        await session.release();
      }
      const next = layers.map(() => undefined) as Array<LayerRefit | undefined>;
      for (const [k, l] of active.entries()) {
        const prior = refits[l.index] ?? storedLeft(header, payload, l.index, l.rank);
        next[l.index] = await accumulators[k].solve(prior);
      }
      refits = next;
    }
  } finally {
    await original.release();
  }
  options.onProgress?.(sweeps, sweeps, '');
  return refits;
}

/** The layer's stored left factor and bias at this rank: where the ridge pulls the refit. */
function storedLeft(header: ModelHeader, payload: Uint8Array, index: number, rank: number): LayerRefit {
  const layer = header.layers[index];
  const node = header.graph.nodes[layer.nodeIndex];
  const { left } = gatherFactors(layer, rank, payload, header);
  const t = biasTensor(header, node, layer.rows);
  const bias = t && float32Copy(payload, t.range.offset, layer.rows);
  return { left, bias };
}

/** An elementwise clamp to [lo, hi] after adding `offset` (one value per output), which a layer's output goes through. */
export interface OutputActivation {
  lo: number;
  hi: number;
  offset?: Float32Array;
  /** The activation's output tensor: what downstream sees. */
  output: string;
}

/** Where the compressed output z should go so that f(z) = f(y) with the least change (see the file comment). */
export function target(act: OutputActivation, channel: number, y: number, z: number): number {
  const o = act.offset ? act.offset[channel] : 0;
  const yo = y + o;
  if (yo <= act.lo) return Math.min(z + o, act.lo) - o;
  if (yo >= act.hi) return Math.max(z + o, act.hi) - o;
  return y;
}

/**
 * The activation the layer's output goes through, when that output feeds exactly one node and it is Relu or
 * Clip, or an Add of a constant per-output bias whose result feeds exactly one Relu/Clip. Anything else (a
 * branch, BatchNormalization, a graph output): undefined, and the refit is linear for that layer.
 */
export function followingActivation(header: ModelHeader, payload: Uint8Array, node: NodeDef, rows: number): OutputActivation | undefined {
  const { graph } = header;
  const only = (tensor: string): NodeDef | undefined => {
    if (graph.outputs.some((o) => o.name === tensor)) return undefined;
    const users = graph.nodes.filter((n) => n.inputs.includes(tensor));
    return users.length === 1 ? users[0] : undefined;
  };
  const constant = (name: string | undefined): Float32Array | undefined => {
    const t = name ? graph.initializers.find((i) => i.name === name) : undefined;
    return t && t.dataType === DataType.FLOAT ? float32Copy(payload, t.range.offset, t.range.length / 4) : undefined;
  };
  let next = only(node.outputs[0]);
  let offset: Float32Array | undefined;
  if (next?.opType === 'Add') {
    const other = next.inputs.find((i) => i !== node.outputs[0]);
    offset = constant(other);
    if (!offset || (offset.length !== rows && offset.length !== 1)) return undefined;
    if (offset.length === 1) offset = new Float32Array(rows).fill(offset[0]);
    next = only(next.outputs[0]);
  }
  if (next?.opType === 'Relu') return { lo: 0, hi: Infinity, offset, output: next.outputs[0] };
  if (next?.opType === 'Clip') {
    // opset ≥ 11: min and max are optional inputs; before: attributes.
    const attr = (name: string) => next!.attributes.find((a) => a.name === name && a.kind === 'float')?.value as number | undefined;
    const bound = (index: number, name: string, fallback: number): number | undefined => {
      const input = next!.inputs[index];
      if (input) return constant(input)?.[0];
      return attr(name) ?? fallback;
    };
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    return lo === undefined || hi === undefined ? undefined : { lo, hi, offset, output: next.outputs[0] };
  }
  return undefined;
}

/** A float32 bias of `rows` values in input 2 (Conv B, Gemm C), or undefined. */
function biasTensor(header: ModelHeader, node: NodeDef, rows: number) {
  const t = node.inputs[2] ? header.graph.initializers.find((i) => i.name === node.inputs[2]) : undefined;
  const size = t?.dims.reduce((a, b) => a * b, 1);
  return t && t.dataType === DataType.FLOAT && size === rows ? t : undefined;
}

/**
 * Σ h̄·h̄ᵀ and Σ y·h̄ᵀ of one layer, streamed: vectors x = [h; 1; y] (the 1 only for layers with a bias) go
 * into one BlockedGram that skips the y·yᵀ block. Conv layers give one vector per output position (channels),
 * subsampled on large maps as calibration does; MatMul and Gemm one per row.
 */
class RefitAccumulator {
  private readonly k: number;
  private readonly gram: BlockedGram;
  private readonly cap: number;

  constructor(
    private readonly node: NodeDef,
    private readonly kind: 'matmul' | 'gemm' | 'conv',
    private readonly rank: number,
    private readonly rows: number,
    private readonly withBias: boolean,
    private readonly activation?: OutputActivation,
  ) {
    this.k = rank + (withBias ? 1 : 0);
    this.gram = new BlockedGram(this.k + rows, this.k);
    // A refit has k unknowns per output, so a few hundred positions per image (tens of thousands over a
    // calibration set) determine it; calibration's larger budget (positionCap, ≥ 1024) would only cost time.
    this.cap = REFIT_POSITIONS;
  }

  /** `z`: the compressed layer's own output on the same samples (needed for nonlinear targets). */
  async add(h: Float32Array, hDims: number[], y: Float32Array, yDims: number[], firstImage: number, z?: Float32Array): Promise<void> {
    const { rank: r, rows: m, k } = this;
    const bias = this.withBias;
    const act = this.activation;
    if (act && (!z || z.length !== y.length)) throw new CompileError(`refit: ${this.node.name} needs the compressed layer's output for its activation`, 'refit');
    if (this.kind !== 'conv') {
      if (hDims.at(-1) !== r || yDims.at(-1) !== m || h.length / r !== y.length / m) {
        throw new CompileError(`refit: ${this.node.name} gave shapes [${hDims}] and [${yDims}], expected […, ${r}] and […, ${m}]`, 'refit');
      }
      await this.gram.add(stacked(h.length / r, (v) => v * r, 1, (v) => v * m, 1));
      return;
    }
    const [n, , ...spatial] = hDims;
    const positions = spatial.reduce((a, b) => a * b, 1);
    if (hDims[1] !== r || yDims[1] !== m || y.length !== n * m * positions) {
      throw new CompileError(`refit: ${this.node.name} gave shapes [${hDims}] and [${yDims}], expected [N, ${r}, …] and [N, ${m}, …]`, 'refit');
    }
    const count = Math.min(positions, this.cap);
    for (let img = 0; img < n; img++) {
      const position = selectPositions(positions, count, firstImage + img);
      await this.gram.add(stacked(count, (v) => img * r * positions + position(v), positions, (v) => img * m * positions + position(v), positions));
    }

    /** Vectors [h; 1; y]: vector v's component c of h is h[hStart(v) + c·hStep], likewise for y. */
    function stacked(count: number, hStart: (v: number) => number, hStep: number, yStart: (v: number) => number, yStep: number): Vectors {
      return {
        count,
        gather(block, stride, col, from, cnt) {
          for (let b = 0; b < cnt; b++) {
            const v = from + b;
            const hs = hStart(v);
            const ys = yStart(v);
            for (let c = 0; c < r; c++) block[c * stride + col + b] = h[hs + c * hStep];
            if (bias) block[r * stride + col + b] = 1;
            if (act) for (let c = 0; c < m; c++) block[(k + c) * stride + col + b] = target(act, c, y[ys + c * yStep], z![ys + c * yStep]);
            else for (let c = 0; c < m; c++) block[(k + c) * stride + col + b] = y[ys + c * yStep];
          }
        },
      };
    }
  }

  /** [A b] from the accumulated sums, ridge-pulled towards `prior`. */
  async solve(prior: LayerRefit): Promise<LayerRefit> {
    const { rank: r, rows: m, k } = this;
    const D = k + m;
    const G = await this.gram.finish();
    const N = this.gram.samples;
    const S = new Float64Array(k * k);
    let trace = 0;
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) S[i * k + j] = G[i * D + j];
      trace += S[i * k + i];
    }
    const lambda = N > 0 ? trace / N : 1;
    for (let i = 0; i < k; i++) S[i * k + i] += lambda;
    // Right-hand sides, k×m: row i holds Σ h̄ᵢ·y + λ·(prior row i).
    const R = new Float64Array(k * m);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < m; j++) {
        const p = i < r ? prior.left[i * m + j] : (prior.bias?.[j] ?? 0);
        R[i * m + j] = G[(k + j) * D + i] + lambda * p;
      }
    }
    const { L } = choleskyWithRidge(S, k);
    const X = solveCholesky(L, k, R, m);
    return { left: Float32Array.from(X.subarray(0, r * m)), bias: this.withBias ? Float32Array.from(X.subarray(r * m, (r + 1) * m)) : undefined };
  }
}

async function createSession(model: Uint8Array, what: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, compilerSessionOptions());
  } catch (e) {
    throw new CompileError(`refit could not build ${what}: ${String((e as Error).message).split('\n')[0]}`, 'refit');
  }
}
