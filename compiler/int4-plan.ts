/**
 * The int4 side of a compile, between allocation and assembly: the options checked, the weights whose inputs
 * calibration must also measure, and the plan assembleLrm takes (group size, input moments, the precision pass's
 * choice per weight, compiler/precision.ts; then, with calibration, each int4/int3 weight rounded again against its
 * inputs as stored upstream, compiler/sequential-rounding.ts).
 */
import { MAX_INT4_GROUP_SIZE } from '../formats/validate.js';
import { runsFactored } from '../runtime/onnx/build-model.js';
import type { Feeds } from '../runtime/tensor.js';
import type { TierCut } from './allocate.js';
import type { LayerStats } from './calibrate.js';
import { CompileOptionError } from './errors.js';
import { nodeAsCandidate, type LayerCandidate } from './factorize/candidates.js';
import { intAttr } from '../formats/attributes.js';
import type { ImportedModel } from './import/onnx.js';
import type { OrderedFactors } from './linalg/svd.js';
import { choosePrecision, type PrecisionChoice, type PrecisionInput } from './precision.js';
import { bitsOf, budgetOf, type TierBudget } from './allocate.js';
import { relativeOutputError, relativeWeightError } from './gptq.js';
import { int4Values, targetOf } from './quantize-int4.js';
import { roundSequentially, type SequentialInput, type SequentialReport } from './sequential-rounding.js';
import { DEFAULT_INT4_GROUP_SIZE } from './quantize-int4.js';
import type { GroupedBits, GroupLayout } from '../formats/int4.js';

/** How an int4 file is rounded: what planInt4 decides and assembleLrm (compiler/payload-layout.ts) stores. */
export interface Int4Plan {
  /** Group size and scale storage of every grouped matrix (formats/int4.ts). */
  grouping: GroupLayout;
  /** E[x·xᵀ] of each weight's inputs, by weight name, where calibration reached it: GPTQ rounds B against it. */
  moments: ReadonlyMap<string, Float64Array>;
  /**
   * The precision pass's choice (compiler/precision.ts) for every weight kept dense and every factored layer's
   * dense M: int4 (already rounded) or int8. A weight it has no choice for is stored int8.
   */
  choices: ReadonlyMap<string, PrecisionChoice>;
  /** What sequential rounding (compiler/sequential-rounding.ts) did, when it ran. */
  sequential?: SequentialReport[];
}

/**
 * --dtype int4's group size, error bounds and lowest bit width, checked; int4 refits are not written yet, so --refit
 * is refused. 3 bits are chosen only by measurement, so they need calibration; with it they are the default.
 */
export function checkInt4Options(options: { int4GroupSize?: number; int4ScaleCodes?: boolean; int4MaxError?: number; int3MaxError?: number; int3MidWeight?: number; int4MinBits?: number; refit?: boolean; calibration?: unknown }): { grouping: GroupLayout; maxError: number; int3MaxError: number; midWeight: number; minBits: GroupedBits } {
  const groupSize = options.int4GroupSize ?? DEFAULT_INT4_GROUP_SIZE;
  if (!Number.isSafeInteger(groupSize) || groupSize < 1 || groupSize > MAX_INT4_GROUP_SIZE) throw new CompileOptionError(`--group-size must be a whole number from 1 to ${MAX_INT4_GROUP_SIZE}, not ${groupSize}`, 'group-size');
  const maxError = options.int4MaxError ?? DEFAULT_INT4_MAX_ERROR;
  if (!(maxError >= 0)) throw new CompileOptionError(`--int4-max-error must be a number ≥ 0, not ${maxError}`, 'int4-max-error');
  if (options.refit) throw new CompileOptionError('--refit does not write int4 files yet: compile int4 without --refit, or refit an int8 file', 'refit');
  const int3MaxError = options.int3MaxError ?? DEFAULT_INT3_MAX_ERROR;
  if (!(int3MaxError >= 0)) throw new CompileOptionError(`--int3-max-error must be a number ≥ 0, not ${int3MaxError}`, 'int3-max-error');
  const midWeight = options.int3MidWeight ?? DEFAULT_MID_WEIGHT;
  if (!(midWeight >= 0 && Number.isFinite(midWeight))) throw new CompileOptionError(`--mid-weight must be a finite number ≥ 0, not ${midWeight}`, 'mid-weight');
  const minBits = options.int4MinBits ?? (options.calibration ? 3 : 4);
  if (minBits !== 3 && minBits !== 4) throw new CompileOptionError(`--min-bits must be 3 or 4, not ${minBits}`, 'min-bits');
  if (minBits === 3 && !options.calibration) throw new CompileOptionError('--min-bits 3 needs --calib: a weight goes int3 only where the network\'s error on real inputs says it can', 'min-bits');
  return { grouping: { size: groupSize, scaleCodes: options.int4ScaleCodes ?? true }, maxError, int3MaxError, midWeight, minBits };
}

/**
 * The tier ladder of an int4 file: with int3 weights allowed, a 4-bit tier (int3 matrices with their mid planes)
 * after the last tier run as stored, unless the ladder has one, so the file always holds its int4 model and the
 * int3 tiers are a prefix of it. Without int3, a 4-bit tier has nothing to refine: refused.
 */
export function int4Ladder(ladder: readonly TierBudget[], minBits: GroupedBits): TierBudget[] {
  const has4 = ladder.some((t) => bitsOf(t) === 4);
  if (minBits === 4) {
    if (has4) throw new CompileOptionError('--tiers: a 4-bit tier (budget:4) takes int3 weights to 4 bits; it needs --min-bits 3 (and --calib)', 'tiers');
    return [...ladder];
  }
  if (has4) return [...ladder];
  const last = ladder.map((t) => bitsOf(t) === undefined).lastIndexOf(true);
  if (last < 0) return [...ladder];
  return [...ladder.slice(0, last + 1), { budget: budgetOf(ladder[last]), bits: 4 }, ...ladder.slice(last + 1)];
}

/** The precision pass (compiler/precision.ts) over the weights kept dense and the factored layers that go dense, then sequential rounding when asked. */
export async function planInt4(
  source: Uint8Array,
  model: ImportedModel,
  candidates: readonly LayerCandidate[],
  factors: readonly OrderedFactors[],
  cuts: readonly TierCut[],
  options: {
    grouping: GroupLayout;
    maxError: number;
    minBits: GroupedBits;
    moments: Map<string, Float64Array>;
    samples: Feeds[];
    onProgress: PrecisionInput['onProgress'];
    int3MaxError: number;
    /** With mid planes: the 4-bit tiers' error against the 3-bit tiers' in the nested rounding (CompileOptions.int3MidWeight). */
    midWeight: number;
    /** The file has a 4-bit tier: every int3 weight is rounded with its mid plane (compiler/gptq.ts's gptqNested). */
    midPlanes: boolean;
    /** Round again sequentially (compiler/sequential-rounding.ts) over these layers and samples; absent: no. */
    sequential?: { denseLayers: readonly LayerCandidate[]; samples: () => Iterable<Feeds> | AsyncIterable<Feeds>; onProgress: SequentialInput['onProgress'] };
  },
): Promise<Int4Plan> {
  const full = cuts[cuts.length - 1].ranks;
  const denseFactored = candidates.flatMap((candidate, i) => (full[i] > 0 && !runsFactored(candidate, full[i]) ? [{ candidate, factors: factors[i], rank: full[i] }] : []));
  const { sequential, midPlanes, midWeight, ...precision } = options;
  const first = await choosePrecision({
    source, model, denseFactored, factoredWeights: new Set(candidates.map((c) => c.weight.name)),
    keepInt8: groupedConvWeights(model), ...precision, ...(midPlanes ? { midWeight } : {}),
  });
  const again = sequential && await roundSequentially({
    source, model, choices: first, grouping: options.grouping, samples: sequential.samples, onProgress: sequential.onProgress,
    layers: [...denseFactored.map((d) => d.candidate), ...sequential.denseLayers],
    factored: new Set(denseFactored.map((d) => d.candidate.weight.name)),
    ...(midPlanes ? { midWeight } : {}),
  });
  const choices = again ? again.choices : first;
  return { grouping: options.grouping, moments: options.moments, choices: midPlanes ? withMidErrors(choices) : choices, ...(again ? { sequential: again.report } : {}) };
}

/**
 * Each int3 choice's layer error at 4 bits, with the mid plane its rounding chose (compiler/gptq.ts's gptqNested, or
 * to nearest): against its inputs' moment where it has one (what GPTQ rounded against), else the weight's own.
 */
function withMidErrors(choices: ReadonlyMap<string, PrecisionChoice>): Map<string, PrecisionChoice> {
  return new Map([...choices].map(([name, c]) => {
    if (c.storage !== 'int3') return [name, c];
    if (!c.int4.mid) throw new RangeError(`int3 weight "${name}" was rounded without its mid plane`);
    const { rows, length, moment } = c.int4;
    const [target, approx] = [targetOf(c.int4), int4Values(c.int4, true)];
    const midError = moment ? relativeOutputError(target, approx, rows, length, moment) : relativeWeightError(target, approx);
    return [name, { ...c, midError }];
  }));
}

/**
 * The precision pass's default error budget (see CompileOptions.int4MaxError). Measured on MobileNet v1 0.75
 * (calibrated on shared images 0–249, evaluated on 250–499, full tier): 0.02 → 0.182× the ONNX bytes at 81.2%
 * top-1, 0.05 → 0.154× at 81.6%, Infinity → 0.150× at 75.2% (original 82.4%).
 */
export const DEFAULT_INT4_MAX_ERROR = 0.05;

/**
 * The precision pass's default budget for the 3-bit tiers (see CompileOptions.int3MaxError): the int4 choice's
 * summed error plus what int3 adds stays within it. Measured on MobileNet v1 0.75 (see docs/measured.md).
 */
export const DEFAULT_INT3_MAX_ERROR = 0.2;

/**
 * How much the 4-bit tiers' error counts against the 3-bit tiers' where int3 values and their mid bits are rounded
 * together (compiler/gptq.ts's gptqNested, sequential rounding). 0: the best 3-bit tiers, the mid bits chosen after;
 * higher: 4-bit tiers closer to int4 alone, 3-bit tiers further from int3 alone. Measured on MobileNet v1 0.75 (logit
 * error on held-out images; docs/measured.md).
 */
export const DEFAULT_MID_WEIGHT = 3;

/**
 * The weight layers that stay dense (first/last layers kept, layers too small to factor), read as candidates so
 * calibration collects their inputs' statistics. Depthwise and grouped convs are not candidates: they round to nearest.
 */
export function denseWeightLayers(model: ImportedModel, factored: readonly LayerCandidate[]): LayerCandidate[] {
  const taken = new Set(factored.map((c) => c.weight.name));
  const uses = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  return model.nodes.flatMap((_, i) => {
    const c = nodeAsCandidate(model, i);
    return c && !taken.has(c.weight.name) && uses.get(c.weight.name) === 1 ? [c] : [];
  });
}

/**
 * Kernels of depthwise and grouped convs: an int4 file keeps them int8. A 3×3 depthwise kernel is 9 values per
 * channel, rounding them moves each channel's output alone (nothing downstream mixes the error away), and they are
 * a few percent of a model's weights: MobileNet v1 fell to 10% top-1 with them int4, even at 0.7% weight error.
 */
function groupedConvWeights(model: ImportedModel): Set<string> {
  return new Set(model.nodes.filter((n) => n.opType === 'Conv' && intAttr(n, 'group', 1) !== 1).map((n) => n.inputs[1]));
}

/** E[x·xᵀ] of each layer's inputs by weight name, from the calibration statistics (empty without calibration). */
export function inputMoments(layers: readonly LayerCandidate[], stats: ReadonlyMap<string, LayerStats> | undefined): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const c of layers) {
    const s = stats?.get(c.node.name);
    if (s && s.samples > 0) out.set(c.weight.name, s.gram.map((v) => v / s.samples));
  }
  return out;
}
