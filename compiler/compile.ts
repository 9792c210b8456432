import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { DenseTensor, FactorBlock, FactorDType, FactoredLayer, ModelHeader, Preset, Tier } from '../formats/model.js';
import { FORMAT_VERSION } from '../formats/model.js';
import { encodeHalf } from '../formats/float16.js';
import { readHeader } from '../formats/read.js';
import { PayloadBuilder, writeLrm } from '../formats/write.js';
import { quantizeFactors } from './quantize.js';
import type { Feeds } from '../runtime/tensor.js';
import { allocateTiers, DEFAULT_RANK_MULTIPLE, DEFAULT_TIER_BUDGETS, runtimeParams } from './allocate.js';
import { collectLayerStats, type LayerStats } from './calibrate.js';
import { layerCosts, type CostModel } from './costs.js';
import { CompileOptionError } from './errors.js';
import { DEFAULT_MIN_PARAMS, endLayerNames, findCandidates, isConvClassifier, type LayerCandidate } from './factorize/candidates.js';
import { importOnnx } from './import/onnx.js';
import { orderedFactors, type OrderedFactors } from './linalg/svd.js';
import { shrunkSecondMoment, whitenedFactors } from './linalg/whitened.js';
import { assertOnnxRuntimeLoads } from './validate-source.js';
import { COMPILER_VERSION } from './version.js';

export interface CompileProgress {
  phase: 'check' | 'calibrate' | 'factorize' | 'write';
  done: number;
  total: number;
  detail?: string;
}

export interface CompileOptions {
  /** Cumulative tier budgets as fractions of the factorable layers' dense parameter count. */
  tiers?: number[];
  dtype?: FactorDType;
  /** Layers smaller than this stay dense. */
  minParams?: number;
  /**
   * Real inputs for activation-aware factorisation: the original model runs on them and each layer's
   * input second moment whitens its SVD. Without them, plain SVD of the weights.
   */
  calibration?: AsyncIterable<Feeds>;
  /** Ranks move in steps of this many components (default 8). */
  rankMultiple?: number;
  /** Keep the model's first and last weight layers dense (default: on for convolutional classifiers). */
  keepEnds?: boolean;
  /** What tier budgets count (default: params). */
  cost?: CostModel;
  fileName?: string;
  onProgress?: (p: CompileProgress) => void;
}

export interface CompileResult {
  lrm: Uint8Array;
  header: ModelHeader;
}

/** The whole pipeline: import → check → factorise → global order and tiers → payload → .lrm bytes. */
export async function compileOnnx(source: Uint8Array, options: CompileOptions = {}): Promise<CompileResult> {
  const fileName = basename(options.fileName ?? 'model.onnx');
  const budgets = options.tiers ?? DEFAULT_TIER_BUDGETS;
  const dtype = options.dtype ?? 'fp32';
  if (dtype !== 'fp32' && dtype !== 'fp16' && dtype !== 'int8') throw new CompileOptionError(`--dtype must be fp32, fp16 or int8, not "${dtype}"`, 'dtype');
  const progress = options.onProgress ?? (() => {});

  const model = importOnnx(source, fileName);
  progress({ phase: 'check', done: 0, total: 1 });
  await assertOnnxRuntimeLoads(source, fileName);
  progress({ phase: 'check', done: 1, total: 1 });

  const ends = (options.keepEnds ?? isConvClassifier(model)) ? endLayerNames(model) : new Set<string>();
  const candidates = findCandidates(model, { minParams: options.minParams ?? DEFAULT_MIN_PARAMS }).filter((c) => !ends.has(c.node.name));

  let stats: Map<string, LayerStats> | undefined;
  if (options.calibration) {
    stats = await collectLayerStats(source, model, candidates, options.calibration, {
      onProgress: (done, total) => progress({ phase: 'calibrate', done, total: total ?? done }),
    });
  }
  const factors: OrderedFactors[] = [];
  for (const [i, c] of candidates.entries()) {
    progress({ phase: 'factorize', done: i, total: candidates.length, detail: c.node.name });
    const s = stats?.get(c.node.name);
    factors.push(s ? whitenedFactors(c.matrix(), c.rows, c.cols, shrunkSecondMoment(s.gram, c.cols, s.samples)) : orderedFactors(c.matrix(), c.rows, c.cols));
    // Let the event loop breathe so a progress bar can redraw between large layers.
    await new Promise((r) => setImmediate(r));
  }
  progress({ phase: 'factorize', done: candidates.length, total: candidates.length });

  const positions = stats && candidates.map((c) => {
    const s = stats.get(c.node.name);
    return s && s.images > 0 ? s.samples / s.images : 1;
  });
  const costs = layerCosts(options.cost ?? 'params', candidates, FACTOR_BYTES[dtype], positions);
  const cuts = allocateTiers(
    candidates.map((c, i) => ({ rows: c.rows, cols: c.cols, sigma: factors[i].sigma, ...costs[i] })),
    budgets,
    { rankMultiple: options.rankMultiple ?? DEFAULT_RANK_MULTIPLE },
  );
  progress({ phase: 'write', done: 0, total: 1 });

  const factoredWeights = new Set(candidates.map((c) => c.weight.name));
  const payload = new PayloadBuilder();
  const initializers: DenseTensor[] = [];
  for (const t of model.initializers) {
    if (factoredWeights.has(t.name)) continue;
    initializers.push({ name: t.name, dataType: t.dataType, dims: t.dims, range: payload.append(t.data) });
  }
  const denseRange = payload.seal(0);
  const denseParams = model.initializers
    .filter((t) => !factoredWeights.has(t.name))
    .reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);

  // int8: each layer's stored components are quantised once (A per output over all of them, B per component),
  // so every tier's block is a slice with the same scales; see compiler/quantize.ts.
  const int8 = dtype === 'int8' ? candidates.map((c, i) => quantizeFactors(factors[i].left, factors[i].right, cuts[cuts.length - 1].ranks[i], c.rows, c.cols)) : [];
  const encode = (values: Float64Array | Int8Array): Uint8Array =>
    values instanceof Int8Array ? new Uint8Array(values.buffer, values.byteOffset, values.length) : dtype === 'fp16' ? encodeHalf(values) : new Uint8Array(Float32Array.from(values).buffer);
  const layers: FactoredLayer[] = candidates.map((c, i) => ({
    name: c.node.name,
    nodeIndex: c.nodeIndex,
    kind: c.kind,
    weight: c.weight.name,
    weightDims: c.weight.dims,
    rows: c.rows,
    cols: c.cols,
    maxRank: cuts[cuts.length - 1].ranks[i],
    sigma: Array.from(factors[i].sigma.subarray(0, cuts[cuts.length - 1].ranks[i])),
    blocks: [] as FactorBlock[],
  }));
  const tiers: Array<Omit<Tier, 'sha256'>> = [];
  let previous = candidates.map(() => 0);
  cuts.forEach((cut, t) => {
    const start = payload.length;
    candidates.forEach((c: LayerCandidate, li) => {
      const [begin, end] = [previous[li], cut.ranks[li]];
      if (t === 0 && dtype === 'int8') layers[li].leftScales = Array.from(int8[li].leftScales);
      if (end <= begin) return;
      const f = dtype === 'int8' ? int8[li] : factors[li];
      const left = payload.append(encode(f.left.subarray(begin * c.rows, end * c.rows)));
      const right = payload.append(encode(f.right.subarray(begin * c.cols, end * c.cols)));
      const scales = dtype === 'int8' ? { rightScales: Array.from(int8[li].rightScales.subarray(begin, end)) } : {};
      layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right, ...scales });
    });
    tiers.push({ index: t, budget: cut.budget, range: payload.seal(start), ranks: cut.ranks, params: denseParams + cut.ranks.reduce((sum, r, i) => sum + runtimeParams(candidates[i].rows, candidates[i].cols, r), 0) });
    previous = cut.ranks;
  });

  const header = {
    formatVersion: FORMAT_VERSION,
    compilerVersion: COMPILER_VERSION,
    source: {
      sha256: createHash('sha256').update(source).digest('hex'),
      fileName,
      bytes: source.length,
      irVersion: model.irVersion,
      producer: model.producer,
      opsets: model.opsets,
    },
    graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers },
    factorDType: dtype,
    layers,
    dense: { range: denseRange },
    tiers,
    presets: defaultPresets(tiers.length),
  };
  const lrm = await writeLrm(header, payload.finish());
  progress({ phase: 'write', done: 1, total: 1 });
  return { lrm, header: (await readHeader(lrm)).header };
}

/** Bytes per stored factor value, for the `bytes` cost model. */
const FACTOR_BYTES: Record<string, number> = { fp32: 4, fp16: 2, int8: 1 };

/** Unmeasured presets by tier count; `lowrank tune` replaces them with measured ones. */
function defaultPresets(tierCount: number): Preset[] {
  return [
    { name: 'compact', deviceClass: 'any', engine: 'any', tiers: 1 },
    { name: 'balanced', deviceClass: 'any', engine: 'any', tiers: Math.max(1, Math.ceil(tierCount / 2)) },
    { name: 'full', deviceClass: 'any', engine: 'any', tiers: tierCount },
  ];
}

