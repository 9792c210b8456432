/**
 * `lowrank eval … --data sts:<file>|text:<file>`: a sentence encoder per tier. sts: reports Pearson and Spearman
 * (×100) of the cosine similarity against the gold scores; both report each tier's mean cosine to the reference's
 * embeddings of the same sentences.
 */
import type { ModelHeader } from '../../formats/model.js';
import type { Engine, Precision } from '../../runtime/engines/engine.js';
import type { Dataset } from '../data/spec.js';
import type { Runner } from '../evaluate.js';
import { evaluateSentenceEncoder, meanCosine, type TextEvalResult } from '../evaluate-text.js';
import { formatBytes, formatCount, table } from './format.js';
import { ProgressBar } from './progress.js';
import { sweepTiers } from './tier-sweep.js';

export interface TextEvalRequest {
  engine: Engine;
  dataset: Dataset;
  batchSize: number;
  output?: string;
  /** The .lrm's header and bytes, when the model is one. */
  lrm?: { header: ModelHeader; bytes: Uint8Array; tiers: number[] };
  reference?: { bytes: Uint8Array; params: number };
  before?: Uint8Array;
  /** The float type the .lrm tiers run in (load option precision). */
  precision?: Precision;
  json?: boolean;
  label: string;
}

interface Quality {
  pearson: number | null;
  spearman: number | null;
}

interface TierRow extends Quality {
  tier: number;
  params: number;
  bytes: number;
  meanCosine: number | null;
  latencyMsP50: number;
  before?: Quality;
  beforeRefit?: Quality;
}

const quality = (r: TextEvalResult): Quality => ({ pearson: r.pearson, spearman: r.spearman });

export async function evalSentenceEncoder(req: TextEvalRequest): Promise<void> {
  const bar = new ProgressBar();
  const run = async (label: string, runner: Runner) => {
    const r = await evaluateSentenceEncoder(runner, req.dataset, { batchSize: req.batchSize, outputName: req.output, onBatch: (d, t) => bar.update(label, d, t) });
    bar.stop();
    return r;
  };
  let reference: (Quality & { params: number; bytes: number; latencyMsP50: number; embeddings: Float32Array[] }) | undefined;
  if (req.reference) {
    const session = await req.engine.create(req.reference.bytes);
    try {
      const r = await run('reference', session);
      reference = { ...quality(r), params: req.reference.params, bytes: req.reference.bytes.length, latencyMsP50: r.latencyMsP50, embeddings: r.embeddings };
    } finally {
      await session.release();
    }
  }
  const measured = req.lrm ? await sweepTiers(req.lrm, req.lrm.tiers, { engine: req.engine.id, before: req.before, precision: req.precision }, run) : [];
  const tiers: TierRow[] = measured.map((m) => ({
    tier: m.tier,
    params: m.params,
    bytes: m.bytes,
    ...quality(m.result),
    meanCosine: reference ? meanCosine(m.result.embeddings, reference.embeddings) : null,
    latencyMsP50: m.result.latencyMsP50,
    ...(m.before ? { before: quality(m.before) } : {}),
    ...(m.beforeRefit ? { beforeRefit: quality(m.beforeRefit) } : {}),
  }));

  const { embeddings: _, ...refOut } = reference ?? { embeddings: undefined };
  if (req.json) {
    console.log(JSON.stringify({ engine: req.engine.id, samples: req.dataset.size, reference: reference ? refOut : null, tiers }));
    return;
  }
  const scored = req.dataset.text === 'pairs';
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(2));
  const compared = tiers.some((t) => t.before);
  const refitted = tiers.some((t) => t.beforeRefit);
  const extra = (t?: TierRow) => [...(compared ? [f(t?.before?.pearson)] : []), ...(refitted ? [f(t?.beforeRefit?.pearson)] : [])];
  console.log(`${req.label} on ${req.dataset.description}, engine ${req.engine.id}`);
  console.log(
    table([
      ['model', 'params', 'bytes', ...(scored ? ['pearson', 'spearman'] : []), ...(compared ? ['before'] : []), ...(refitted ? ['before refit'] : []), 'cosine', 'p50 ms'],
      ...(reference ? [['original', formatCount(reference.params), formatBytes(reference.bytes), ...(scored ? [f(reference.pearson), f(reference.spearman)] : []), ...extra(), '-', reference.latencyMsP50.toFixed(3)]] : []),
      ...tiers.map((t) => [`tier ${t.tier}`, formatCount(t.params), formatBytes(t.bytes), ...(scored ? [f(t.pearson), f(t.spearman)] : []), ...extra(t), t.meanCosine === null ? '-' : t.meanCosine.toFixed(5), t.latencyMsP50.toFixed(3)]),
    ]),
  );
}
