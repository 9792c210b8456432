/** Writes the benchmark's results: compression.json, compression.md, one Pareto SVG per model and index.html. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes, formatCount } from '../compiler/cli/format.js';
import { isQuantBaseline, QUANT_BASELINE_DTYPES } from './baselines.js';
import { dominanceLine } from './dominance.js';
import { frontierSvg } from './frontier-svg.js';
import { noiseText, SENTENCE_TASK } from './noise.js';
import { LATENCY_NOTE, type MetricInfo } from './suites.js';
import { paretoSvg, type ChartSeries, type PanelSpec } from './svg.js';
import type { BenchResult, ModelResult, Row } from './types.js';

export function formatValue(v: number | null, m: MetricInfo): string {
  if (v === null) return '-';
  if (!Number.isFinite(v)) return m.unit === 'dB' ? '∞ dB' : '∞';
  if (m.unit === '%') return `${v.toFixed(2)}%`;
  if (m.unit === 'dB') return `${v.toFixed(2)} dB`;
  if (m.decimals !== undefined) return v.toFixed(m.decimals);
  if (v === 0) return '0';
  return Math.abs(v) < 0.001 ? v.toExponential(2) : v.toFixed(4);
}

function formatDelta(d: number | null, m: MetricInfo): string {
  if (d === null) return '-';
  const s = d >= 0 ? '+' : '−';
  return `${s}${Math.abs(d).toFixed(2)}${m.unit === '%' ? ' pp' : ''}`;
}

function pct(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(2)}%`;
}

/** The table of one model: a heading row, then one row per original/method tier. */
export function tableRows(m: ModelResult): string[][] {
  const text = m.task === SENTENCE_TASK;
  const head = ['method', 'tier', 'budget', 'params', '% of original params', 'bytes to load', m.metric.name, 'Δ vs original', ...(text ? ['Spearman ×100', 'mean cosine to original'] : ['agreement']), 'latency p50 (ms)', 'latency vs original'];
  const body = m.rows.map((r) => [
    r.method,
    r.tier === null ? '-' : String(r.tier),
    r.budget === null ? '-' : `${r.budget}${r.bits ? `:${r.bits}` : ''}`,
    formatCount(r.params),
    `${r.paramsPct.toFixed(1)}%`,
    formatBytes(r.bytes),
    formatValue(r.value, m.metric) + (r.interval95 === undefined || r.method === 'original' || r.value === 0 ? '' : ` ±${formatValue(r.interval95, m.metric)}`),
    formatDelta(r.delta, m.metric),
    ...(text ? [r.extra.spearman == null ? '-' : r.extra.spearman.toFixed(2), r.extra.meanCosine == null ? '-' : r.extra.meanCosine.toFixed(4)] : [pct(r.agreement)]),
    r.latencyMsP50.toFixed(3),
    `${r.latencyRatio.toFixed(2)}×`,
  ]);
  return [head, ...body];
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  const align = head!.map((_, i) => (i <= 1 ? '---' : '---:'));
  // A cell may hold a pipe (|Δ probability|): escaped, or it would split the cell.
  return [head!, align, ...body].map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`).join('\n');
}

function compileLine(m: ModelResult): string {
  return m.compile
    .map((c) => {
      const d = c.distill ? `, of which distillation ${c.distill.seconds.toFixed(1)} s: ${c.distill.steps} steps on ${c.distill.samples} samples, ${c.distill.trainableParams} trained parameters, ${c.distill.engine}, peak RSS ${c.distill.peakRssMiB} MiB` : '';
      return `${c.method} ${c.seconds.toFixed(1)} s (${c.factoredLayers} factored layers, ${formatBytes(c.lrmBytes)} .lrm${d})`;
    })
    .join('; ');
}

/** A section kept from a run before ratios were paired round by round says that its ratios are of medians. */
function pairedRatioNote(m: ModelResult): string {
  const tiers = m.rows.filter((r) => r.method !== 'original');
  return tiers.length > 0 && tiers.every((r) => r.latencyRoundRatios === undefined)
    ? '; its latency ratios are from before ratios were taken round by round: each is the tier\'s median over the original\'s median in the same alternation'
    : '';
}

function notes(m: ModelResult): string[] {
  const lines = [
    `- Calibration split: ${m.split.calibration}`,
    ...(m.split.distillation ? [`- Distillation split: ${m.split.distillation}`] : []),
    `- Evaluation split: ${m.split.evaluation}; ${m.evaluationSamples} ${m.task === 'voice activity' ? 'chunks' : m.task === 'classification' ? 'samples' : m.task === SENTENCE_TASK ? 'sentence pairs' : 'images'}`,
    ...(m.ran ? [`- Run: ${m.ran.date}, load average ${m.ran.loadAverage.start.join('/')} at the start, ${m.ran.loadAverage.end.join('/')} at the end${pairedRatioNote(m)}`] : []),
    `- Original: ${m.file} (${m.source}), ${formatCount(m.originalParams)} params, ${formatBytes(m.originalBytes)}`,
    `- Compile time: ${compileLine(m)}`,
    `- Quality: ${m.metric.name}${m.metric.higherIsBetter ? ' (higher is better)' : ' (lower is better)'}${m.metric.vsOriginal ? '; measured against the original\'s outputs, so no Δ column' : ''}`,
  ];
  if (m.agreement) lines.push(`- Agreement: ${m.agreement}`);
  const noise = noiseText(m);
  if (noise) lines.push(`- Noise: ${noise}`);
  const dominance = dominanceLine(m, (v) => formatValue(v, m.metric));
  if (dominance) lines.push(dominance);
  return lines;
}

/** The quantisation-only baselines' method names, each wrapped in `mark` (Markdown bold by default). */
function baselineNames(mark = '**'): string {
  return QUANT_BASELINE_DTYPES.map((d) => `${mark}quant-${d}${mark}`).join(', ');
}

function loadText(e: BenchResult['environment']): string {
  return `${e.loadAverage.start.join('/')} at the start, ${e.loadAverage.end?.join('/') ?? '?'} at the end`;
}

export function markdown(result: BenchResult): string {
  const e = result.environment;
  const out: string[] = [
    '# Compression benchmark',
    '',
    `Generated by \`npm run bench\`${result.settings.quick ? ' with --quick (small limits: not representative)' : ''} on ${e.date}: ${e.cpu}, ${e.cores} cores, ${e.memoryGiB} GiB, ${e.platform}, Node ${e.node}, onnxruntime-node ${e.onnxruntimeNode}, ${e.compiler}. Engine ${e.engine}; total ${result.totalSeconds.toFixed(0)} s. Load average (1/5/15 min) ${loadText(e)}: the machine may be shared, which shows in latencies.`,
    '',
    `Every row was measured on the same engine, and a model's rows in one run (its section says when). Methods: **plain-svd** = plain SVD of the weights, allocation by σ², no calibration; **calibrated** = whitened (activation-aware) SVD and sensitivity allocation, both on the calibration split; **calibrated-int8** / **calibrated-int4** = calibrated, every weight int8 / int4, GPTQ-rounded on the calibration split (int8 per output channel; int4: groups of 32, some weights int8, to nearest, as the precision pass chose); **calibrated-int3** (MobileNet) = calibrated-int4 at full rank, nested 3 → 4 → 8 bits: some weights int3 for the 3-bit tier (budget 0.2), a 4-bit tier with their mid planes, and the 8-bit tier; **calibrated-refit** = calibrated, then every tier's left factors and biases refitted in closed form; **calibrated-r2** = calibrated with the tiers and rank step of **calibrated-distill** = calibrated-r2, then fine-tuned against the original on the distillation split (each model's compile line says how long distillation took and its peak memory). Quantisation-only baselines, on every model: ${baselineNames()} = the original quantised by our own compiler without factorisation (every Conv/MatMul/Gemm weight and Gather table: int8 and int4 by the same quantiser as calibrated-int8 and calibrated-int4, GPTQ on the calibration split, to nearest where no input was measured; biases and other tensors float32); each model's Dominance line says whether a tier of ours loads no more bytes at a quality as good within the noise (accuracies: the binomial interval; correlations: Fisher's z; figures measured against the original's outputs: the baseline's own bootstrap interval over the evaluation images or stream blocks, its "Noise" line), and its frontier chart plots quality against bytes with reference lines at the .onnx file's size and its fp16 size (file bytes − float32 initializer bytes / 2). "bytes to load" is the .onnx file for the original and the .lrm header plus tiers 0..tier otherwise. Latency: ${LATENCY_NOTE}. Compile time is the wall time of \`compileOnnx\`, including decoding the calibration samples it streams.`,
    '',
  ];
  const earlier = result.models.filter((m) => m.ran && m.ran.date < e.date);
  if (earlier.length > 0) out.push(`Merged (\`--merge\`): ${earlier.map((m) => m.id).join(', ')} kept from earlier runs, each dated in its section; the header's date and load average are this run's, its total the sum of every model's own time.`, '');
  if (result.skipped.length > 0) out.push('Skipped: ' + result.skipped.map((s) => `${s.id} (${s.reason})`).join('; ') + '.', '');
  for (const m of result.models) {
    out.push(`## ${m.id} (${m.task})`, '', ...notes(m), '', markdownTable(tableRows(m)), '', `![${m.id}](${m.id}.svg)`, '', `![${m.id}: bytes-vs-quality frontier](${m.id}-frontier.svg)`, '');
  }
  return out.join('\n');
}

/** Byte ticks in KiB below 1 MiB of range, else MiB. */
const bytesUnit = (max: number) => (max < 1024 * 1024 ? 1024 : 1024 * 1024);

function axisBytes(v: number): string {
  if (v === 0) return '0';
  if (v < 1024 * 1024) return `${Number((v / 1024).toPrecision(3))} KiB`;
  return `${Number((v / 1024 / 1024).toPrecision(3))} MiB`;
}

function axisValue(m: MetricInfo): (v: number) => string {
  return (v) => {
    if (m.unit === '%') return `${Number(v.toPrecision(4))}%`;
    if (m.unit === 'dB') return `${Number(v.toPrecision(3))}`;
    return Math.abs(v) > 0 && Math.abs(v) < 0.01 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
  };
}

function yLabelOf(m: ModelResult): string {
  const cap = m.metric.chartCap === undefined ? '' : `; above ${m.metric.chartCap} drawn at ${m.metric.chartCap}`;
  return `${m.metric.short}${m.metric.unit === 'dB' ? ` (dB${cap})` : cap ? ` (${cap.slice(2)})` : ''}${m.metric.higherIsBetter ? '' : ' (lower is better)'}`;
}

/** A point's tooltip. */
function pointLabel(m: ModelResult): (r: Row) => string {
  return (r) => `${r.method}${r.tier === null ? '' : ` tier ${r.tier}`}: ${formatValue(r.value, m.metric)}, ${formatBytes(r.bytes)}, ${r.latencyMsP50.toFixed(3)} ms`;
}

export function chart(m: ModelResult): string {
  const yLabel = yLabelOf(m);
  const original = m.rows.find((r) => r.method === 'original')!;
  const label = pointLabel(m);
  const methods = [...new Set(m.rows.map((r) => r.method).filter((x) => x !== 'original'))];
  const usable = (r: Row) => r.value !== null;
  const make = (title: string, xLabel: string, x: (r: Row) => number, xFormat: (v: number) => string, xTickUnit?: (max: number) => number): PanelSpec => ({
    title, xLabel, yLabel, xFormat, xTickUnit, yFormat: axisValue(m.metric), higherIsBetter: m.metric.higherIsBetter, yCap: m.metric.chartCap,
    original: { x: x(original), y: original.value ?? 0, label: label(original) },
    series: methods.map((method): ChartSeries => ({
      name: method,
      points: m.rows.filter((r) => r.method === method && usable(r)).map((r) => ({ x: x(r), y: r.value!, label: label(r) })),
    })),
  });
  return paretoSvg(`${m.id}: ${m.metric.short} against size and latency`, [
    make('vs bytes to load', 'bytes to load', (r) => r.bytes, axisBytes, bytesUnit),
    make('vs latency', 'latency p50 (ms, ort-node-cpu)', (r) => r.latencyMsP50, (v) => String(Number(v.toPrecision(3)))),
  ]);
}

/** The bytes-vs-quality frontier of one model (frontier-svg.ts): every method, the baselines, the two reference sizes. */
export function frontierChart(m: ModelResult): string {
  const original = m.rows.find((r) => r.method === 'original')!;
  const label = pointLabel(m);
  const methods = [...new Set(m.rows.map((r) => r.method).filter((x) => x !== 'original'))];
  const baselines = methods.filter(isQuantBaseline);
  return frontierSvg({
    title: `${m.id}: ${m.metric.short} against bytes to load`,
    xLabel: 'bytes to load (log scale)', yLabel: yLabelOf(m), xFormat: axisBytes, yFormat: axisValue(m.metric),
    higherIsBetter: m.metric.higherIsBetter, yCap: m.metric.chartCap,
    original: { x: original.bytes, y: original.value ?? 0, label: label(original) },
    series: methods.map((method) => ({
      name: method,
      baseline: isQuantBaseline(method),
      points: m.rows.filter((r) => r.method === method && r.value !== null).map((r) => ({ x: r.bytes, y: r.value!, label: label(r) })),
    })),
    references: [
      { x: m.onnxFp16Bytes, label: `ONNX as fp16 ${formatBytes(m.onnxFp16Bytes)}` },
      { x: m.originalBytes, label: `ONNX ${formatBytes(m.originalBytes)}` },
    ],
    caption: [
      `Bytes to load: the .onnx file for the original (diamond), the .lrm header plus tiers 0..tier for our methods (lines through their tiers).`,
      `Reference lines: the .onnx file, and the .onnx file with every float32 initializer as fp16 = file bytes − float32 initializer bytes / 2.`,
      ...(baselines.length ? [`${baselines.join(', ')}: the original quantised by our compiler, nothing factored (Conv/MatMul/Gemm weights and Gather tables: int8 per output channel, int4 in groups).`] : []),
    ],
  });
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function html(result: BenchResult, charts: Map<string, string[]>): string {
  const e = result.environment;
  const parts: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>lowrank-edge compression benchmark</title>',
    '<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px}td{text-align:right}td:nth-child(1),td:nth-child(2){text-align:left}th{background:#f3f3f3}tr.original td{font-weight:bold}svg{max-width:100%;height:auto}li{margin:.2em 0}</style>',
    '</head><body>',
    '<h1>Compression benchmark</h1>',
    `<p>${esc(`${e.date}: ${e.cpu}, ${e.cores} cores, ${e.memoryGiB} GiB, ${e.platform}, Node ${e.node}, onnxruntime-node ${e.onnxruntimeNode}, ${e.compiler}; engine ${e.engine}; total ${result.totalSeconds.toFixed(0)} s; load average ${loadText(e)}${result.settings.quick ? '; --quick (small limits, not representative)' : ''}.`)}</p>`,
    `<p>All rows come from one run on one engine. plain-svd: SVD of the weights, σ² allocation, no calibration. calibrated: whitened SVD and sensitivity allocation on the calibration split. calibrated-int8: the same with int8 factors. calibrated-refit and calibrated-distill: recovered after calibration (refit: per-tier least squares; distill: fine-tuned against the original). ${esc(baselineNames(''))}: quantisation-only baselines, the original quantised per output channel by our compiler, nothing factored. Bytes to load: the .onnx file for the original, the .lrm header plus tiers 0..tier otherwise. Latency: ${esc(LATENCY_NOTE)}. The same numbers are in compression.json and compression.md.</p>`,
  ];
  if (result.skipped.length > 0) parts.push(`<p>Skipped: ${esc(result.skipped.map((s) => `${s.id} (${s.reason})`).join('; '))}.</p>`);
  for (const m of result.models) {
    parts.push(`<h2 id="${esc(m.id)}">${esc(m.id)} (${esc(m.task)})</h2>`, '<ul>');
    for (const n of notes(m)) parts.push(`<li>${esc(n.slice(2))}</li>`);
    parts.push('</ul>', '<table>');
    const [head, ...body] = tableRows(m);
    parts.push(`<tr>${head!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`);
    for (const r of body) parts.push(`<tr${r[0] === 'original' ? ' class="original"' : ''}>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`);
    parts.push('</table>', ...(charts.get(m.id) ?? []));
  }
  parts.push('</body></html>', '');
  return parts.join('\n');
}

/** A JSON array of numbers (or nulls) that JSON.stringify spread over one line per element. */
const NUMBER_ARRAY = /\[\n\s*((?:-?\d[\d.eE+-]*|null)(?:,\n\s*(?:-?\d[\d.eE+-]*|null))*)\n\s*\]/g;

/**
 * JSON with non-finite numbers (an exact PSNR) as null, and every array of numbers on one line: rows' per-image units
 * would otherwise take one line a number.
 */
export function json(result: BenchResult): string {
  const text = JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
  return text.replace(NUMBER_ARRAY, (_m, items: string) => `[${items.split(/,\n\s*/).join(', ')}]`) + '\n';
}

/** Writes every output file into `dir`; returns their paths. */
export async function writeReport(result: BenchResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    written.push(p);
  };
  const charts = new Map<string, string[]>();
  for (const m of result.models) {
    const svgs = [chart(m), frontierChart(m)];
    charts.set(m.id, svgs);
    await put(`${m.id}.svg`, svgs[0]!);
    await put(`${m.id}-frontier.svg`, svgs[1]!);
  }
  await put('compression.json', json(result));
  await put('compression.md', markdown(result));
  await put('index.html', html(result, charts));
  return written;
}
