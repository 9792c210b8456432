/** Hand-made bench rows and model results for the report's unit tests (dominance, frontier chart). */
import type { MetricInfo } from '../../bench/suites.js';
import type { ModelResult, Row } from '../../bench/types.js';

export const ACCURACY: MetricInfo = { name: 'top-1 accuracy', short: 'top-1 accuracy', unit: '%', higherIsBetter: true, vsOriginal: false };
export const REL_ERROR: MetricInfo = { name: 'relative L2 error', short: 'relative L2 error', unit: '', higherIsBetter: false, vsOriginal: true };

/** A row with the fields the report reads; the rest are plausible constants. */
export function row(method: Row['method'], tier: number | null, bytes: number, value: number | null): Row {
  return {
    model: 'hand', method, dtype: method === 'original' ? null : method.startsWith('quant-') || method.endsWith('int8') ? 'int8' : 'fp32',
    tier, budget: tier === null ? null : 1, params: 1000, paramsPct: 100, bytes, bytesPct: 100, metric: 'm', value, delta: null,
    agreement: null, latencyMsP50: 1, latencyRatio: 1, evalSeconds: 1, extra: {},
  };
}

/** A model result around `rows` (the first must be the original), `samples` evaluated. */
export function modelResult(rows: Row[], metric: MetricInfo = ACCURACY, samples = 10000): ModelResult {
  return {
    id: 'hand', file: 'hand.onnx', source: 'test', task: 'classification', tiers: [0.5, 1],
    split: { calibration: 'c', evaluation: 'e' }, evaluationSamples: samples, metric, agreement: null,
    originalParams: 1000, originalBytes: rows[0]!.bytes, onnxFp16Bytes: rows[0]!.bytes / 2 + 100, compile: [], rows, seconds: 1,
  };
}
