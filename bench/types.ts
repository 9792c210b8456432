/** The shape of bench/results/compression.json. Non-finite numbers (an exact PSNR) are written as null. */
import type { FactorDType } from '../formats/model.js';
import type { MethodId } from './models.js';
import type { MetricInfo } from './suites.js';
import type { Resamplable } from './bootstrap.js';

export interface Row {
  model: string;
  method: 'original' | MethodId;
  /** Factor storage type (quantisation-only baselines: every weight's); null for the original. */
  dtype: FactorDType | null;
  /** Tier index as `lowrank inspect` numbers them (tiers 0..tier loaded); null for the original. */
  tier: number | null;
  /** The tier's budget (fraction of the factorable layers' dense parameters); null for the original. */
  budget: number | null;
  /** 8 for a tier that runs int4 matrices with their low planes (format v4 nested precision); absent otherwise. */
  bits?: 4 | 8;
  /** Weights the model runs with (original: every initializer element). */
  params: number;
  /** params as a percentage of the original's. */
  paramsPct: number;
  /** Bytes a device reads: the .onnx file, or the .lrm header plus tiers 0..tier. */
  bytes: number;
  bytesPct: number;
  /** Name of the quality metric (the model's MetricInfo.name). */
  metric: string;
  value: number | null;
  /** value − original's value, for metrics that are not themselves a comparison with the original. */
  delta: number | null;
  /** Percent agreement with the original's decisions (see the model's agreementName). */
  agreement: number | null;
  /**
   * Half-width of the 95% interval of `value` were the evaluation samples drawn again (bootstrap, bench/bootstrap.ts),
   * for metrics without a closed-form interval; absent for accuracies and correlations and in older results.
   */
  interval95?: number;
  /** What `value` is made of per evaluation unit (image, stream block), with interval95: the report pairs rows on it. */
  units?: Resamplable;
  /** Median single-sample latency in ms on the bench engine (suites.ts LATENCY_NOTE). */
  latencyMsP50: number;
  /**
   * A tier's latency over the original's, timed in alternation with it: the median of latencyRoundRatios
   * (bench/paired-latency.ts); 1 for the original.
   */
  latencyRatio: number;
  /** Per round of the alternation, the tier's block median over the original's; absent for the original. */
  latencyRoundRatios?: number[];
  /** Seconds this row's evaluation took (load + all samples + latency runs). */
  evalSeconds: number;
  extra: Record<string, number | null>;
}

export interface CompileRecord {
  method: MethodId;
  description: string;
  dtype: string;
  calibrated: boolean;
  /** Wall time of compileOnnx, including reading and decoding the calibration samples it streams. */
  seconds: number;
  factoredLayers: number;
  /** Size of the whole .lrm file. */
  lrmBytes: number;
  /** Distillation, when the method has it: its share of `seconds`, steps, and the peak RSS seen while it ran. */
  distill?: { seconds: number; steps: number; samples: number; trainableParams: number; peakRssMiB: number; engine: string };
}

export interface ModelResult {
  id: string;
  file: string;
  /** Where the model comes from: ../shared/data/models, or the npm package bench/fetch-models.mjs fetched it from. */
  source: string;
  task: string;
  tiers: number[];
  split: { calibration: string; evaluation: string; distillation?: string };
  evaluationSamples: number;
  metric: MetricInfo;
  agreement: string | null;
  originalParams: number;
  originalBytes: number;
  /**
   * The .onnx file with every float32 initializer as fp16, the graph unchanged: originalBytes − float32 initializer
   * bytes / 2 (the frontier chart's fp16 reference line).
   */
  onnxFp16Bytes: number;
  compile: CompileRecord[];
  rows: Row[];
  /** Seconds spent on this model in all (data preparation, compiles, evaluations). */
  seconds: number;
  /**
   * When this model ran, and the load average (1/5/15 min) then: its own stamp, since `--merge` (bench/merge.ts)
   * keeps models from an earlier run beside the ones it reruns. Absent in results written before it existed.
   */
  ran?: { date: string; loadAverage: { start: number[]; end: number[] } };
}

export interface Environment {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  onnxruntimeNode: string;
  compiler: string;
  engine: string;
  date: string;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended: this machine may be shared, and latency shows it. */
  loadAverage: { start: number[]; end?: number[] };
}

export interface BenchResult {
  environment: Environment;
  settings: { quick: boolean; models: string[]; engine: string };
  totalSeconds: number;
  models: ModelResult[];
  /** Models left out, e.g. a fetched model when the npm registry could not be reached. */
  skipped: Array<{ id: string; reason: string }>;
  /** Every row of every model. */
  rows: Row[];
}
