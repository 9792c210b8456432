/**
 * What the adapter trainer adds to the runtime's list of adaptable weights (runtime/adapters/targets.ts, the one rule
 * for both, so every layer trained here is one the runtime applies): the default selection by size budget, named
 * layers as typed option errors, and rank checks.
 */
import { adapterFactorShapes, type AdapterKind } from '../../formats/adapter-model.js';
import type { AdapterTarget } from '../../runtime/adapters/targets.js';
import { CompileOptionError } from '../errors.js';

/** `names` (weight initializer or node names) as targets, or every target when absent; unknown names are an error. */
export function selectTargets(all: readonly AdapterTarget[], names: readonly string[] | undefined, fileName: string): AdapterTarget[] {
  if (all.length === 0) throw new CompileOptionError(`${fileName} has no weight an adapter can change (factored layers, dense Conv with group 1, Gemm or MatMul weights)`, 'adapter-targets');
  if (names === undefined) return [...all];
  if (names.length === 0) throw new CompileOptionError(`--layers lists no layer; valid: ${describe(all)}`, 'adapter-targets');
  const unknown = names.filter((n) => !all.some((t) => t.target === n || t.node === n));
  if (unknown.length > 0) {
    throw new CompileOptionError(`--layers: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not an adaptable layer of ${fileName}; valid (weight or node name): ${describe(all)}`, 'adapter-targets');
  }
  return all.filter((t) => names.includes(t.target) || names.includes(t.node));
}

/** Whether a layer takes this rank (checkRank would pass). */
export function rankFits(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): boolean {
  if (rank > Math.min(t.rows, t.cols)) return false;
  if (kind !== 'lokr' || !kron) return true;
  return t.rows % kron[0] === 0 && t.cols % kron[1] === 0 && rank <= Math.min(t.rows / kron[0], t.cols / kron[1]);
}

/** Refuses a rank no layer of this shape can have (and, for LoKr, a Kronecker split that does not fit). */
export function checkRank(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): void {
  const most = Math.min(t.rows, t.cols);
  if (rank > most) {
    throw new CompileOptionError(`--rank ${rank} is larger than layer "${t.target}" allows (${t.rows}×${t.cols}: at most ${most}); lower --rank or leave the layer out with --layers`, 'adapter-rank');
  }
  if (kind !== 'lokr' || !kron) return;
  const [kr, kc] = kron;
  if (t.rows % kr !== 0 || t.cols % kc !== 0) {
    throw new CompileOptionError(`LoKr factor ${kr}×${kc} does not divide layer "${t.target}" (${t.rows}×${t.cols}); pick a --lokr-factor whose divisors fit`, 'adapter-kron');
  }
  if (rank > Math.min(t.rows / kr, t.cols / kc)) {
    throw new CompileOptionError(`--rank ${rank} is larger than LoKr's low-rank part of layer "${t.target}" allows (${t.rows / kr}×${t.cols / kc}); lower --rank or --lokr-factor`, 'adapter-rank');
  }
}

function describe(all: readonly AdapterTarget[]): string {
  return all.map((t) => `${t.target} (${t.node}, ${t.rows}×${t.cols}${t.storage === 'factored' ? ', factored' : ''})`).join(', ');
}

/** Factor elements of one layer's adapter. */
export function factorElements(kind: AdapterKind, t: AdapterTarget, rank: number, kron?: [number, number]): number {
  return adapterFactorShapes(kind, { rows: t.rows, cols: t.cols, rank, kron }).reduce((s, [r, c]) => s + r * c, 0);
}

/**
 * The layers adapted when none are named: cheapest first, every layer whose factors (`bytes` of each) still fit in
 * `budget` bytes, returned in graph order. On mnist-cnn-pytorch (2.34 MiB, rank 8) that is conv1, conv2 and fc2,
 * 17 KB of LoRA at fp32, and not fc1 (104 KB alone): measured, the convolutions carry the change of contrast
 * (97.9% held out without fc1, issue 17), so the 3% budget costs no accuracy there.
 * A layer whose rank cannot fit (rank > min(rows, cols)) is left out rather than refused, as it was not asked for.
 */
export function defaultTargets(all: readonly AdapterTarget[], bytes: (t: AdapterTarget) => number, budget: number, fileName: string): AdapterTarget[] {
  const chosen = new Set<AdapterTarget>();
  let used = 0;
  for (const t of [...all].sort((a, b) => bytes(a) - bytes(b))) {
    if (used + bytes(t) > budget) break;
    chosen.add(t);
    used += bytes(t);
  }
  if (chosen.size === 0) {
    const cheapest = Math.min(...all.map(bytes));
    throw new CompileOptionError(`no layer of ${fileName} fits the adapter size budget (${Math.round(budget)} bytes; the smallest layer needs ${cheapest}); raise --size-budget, lower --rank or name layers with --layers`, 'adapter-targets');
  }
  return all.filter((t) => chosen.has(t));
}
