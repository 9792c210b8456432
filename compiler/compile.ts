import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { DenseTensor, FactorBlock, FactorDType, FactoredLayer, ModelHeader, Preset, Tier } from '../formats/model.js';
import { FORMAT_VERSION } from '../formats/model.js';
import { encodeHalf } from '../formats/float16.js';
import { readHeader } from '../formats/read.js';
import { PayloadBuilder, writeLrm } from '../formats/write.js';
import { allocateTiers, DEFAULT_TIER_BUDGETS } from './allocate.js';
import { CompileOptionError } from './errors.js';
import { DEFAULT_MIN_PARAMS, findCandidates, type LayerCandidate } from './factorize/candidates.js';
import { importOnnx } from './import/onnx.js';
import { orderedFactors, type OrderedFactors } from './linalg/svd.js';
import { assertOnnxRuntimeLoads } from './validate-source.js';
import { COMPILER_VERSION } from './version.js';

export interface CompileProgress {
  phase: 'check' | 'factorize' | 'write';
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
  if (dtype !== 'fp32' && dtype !== 'fp16') throw new CompileOptionError(`--dtype must be fp32 or fp16, not "${dtype}"`, 'dtype');
  const progress = options.onProgress ?? (() => {});

  const model = importOnnx(source, fileName);
  progress({ phase: 'check', done: 0, total: 1 });
  await assertOnnxRuntimeLoads(source, fileName);
  progress({ phase: 'check', done: 1, total: 1 });

  const candidates = findCandidates(model, { minParams: options.minParams ?? DEFAULT_MIN_PARAMS });
  const factors: OrderedFactors[] = [];
  for (const [i, c] of candidates.entries()) {
    progress({ phase: 'factorize', done: i, total: candidates.length, detail: c.node.name });
    factors.push(orderedFactors(c.matrix(), c.rows, c.cols));
    // Let the event loop breathe so a progress bar can redraw between large layers.
    await new Promise((r) => setImmediate(r));
  }
  progress({ phase: 'factorize', done: candidates.length, total: candidates.length });

  const cuts = allocateTiers(
    candidates.map((c, i) => ({ rows: c.rows, cols: c.cols, sigma: factors[i].sigma })),
    budgets,
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

  const encode = (values: Float64Array): Uint8Array => (dtype === 'fp16' ? encodeHalf(values) : new Uint8Array(Float32Array.from(values).buffer));
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
      if (end <= begin) return;
      const f = factors[li];
      const left = payload.append(encode(f.left.subarray(begin * c.rows, end * c.rows)));
      const right = payload.append(encode(f.right.subarray(begin * c.cols, end * c.cols)));
      layers[li].blocks.push({ tier: t, rankBegin: begin, rankEnd: end, left, right });
    });
    tiers.push({ index: t, budget: cut.budget, range: payload.seal(start), ranks: cut.ranks, params: denseParams + cut.params });
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

/** Unmeasured presets by tier count; `lowrank tune` replaces them with measured ones. */
function defaultPresets(tierCount: number): Preset[] {
  return [
    { name: 'compact', deviceClass: 'any', engine: 'any', tiers: 1 },
    { name: 'balanced', deviceClass: 'any', engine: 'any', tiers: Math.max(1, Math.ceil(tierCount / 2)) },
    { name: 'full', deviceClass: 'any', engine: 'any', tiers: tierCount },
  ];
}

