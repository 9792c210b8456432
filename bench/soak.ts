/**
 * Soak and concurrency (issue 16): per engine, one session of mnist-cnn-pytorch (int8 file, full tier) runs
 * 5,000 times after a warm-up; the process RSS after the warm-up and after the soak says whether anything leaks
 * (target: ≤ 5% growth). Then 64 different digits run one after another and all at once: the outputs must be
 * bitwise equal (a session shared by concurrent runs must not mix them up).
 *
 * The WebGPU engines (ort-node-webgpu, tfjs-webgpu) run on Dawn over Vulkan. As in the WebGPU tests, when
 * VK_ICD_FILENAMES is unset and Debian's chromium SwiftShader driver is installed, the script points Dawn at it (a
 * CPU adapter; set VK_ICD_FILENAMES yourself to soak a real GPU's driver instead). SwiftShader's "device" memory is
 * host memory, so there RSS covers it too.
 *
 * ort-webgpu runs only in a browser: `--engines ort-webgpu` soaks it in headless Chromium (bench/soak-browser.ts),
 * and `<engine>@chromium` does the same for the other in-page engines (ort-wasm, tfjs-wasm, tfjs-webgpu). There the
 * RSS is the sum over Chromium's processes (browser, GPU process, renderer, …), what a user's task manager shows.
 *
 * Rows are merged into bench/results/soak.{json,md}: a run replaces the rows of the engines (and model) it measured
 * and keeps the others, each row with the date of the run that produced it.
 *
 *   npm run build && node --expose-gc dist/bench/soak.js [--runs 5000] [--engines ort-node-cpu,ort-wasm,tfjs-wasm]
 *     [--max-seconds s] [--warmup 200] [--model mnist-cnn-pytorch.onnx] [--out dir]   (also --engines
 *     ort-node-webgpu,tfjs-webgpu, or ort-webgpu,tfjs-webgpu@chromium,…; --runs and --max-seconds, which stops a soak
 *     early, apply to each engine of the run; --model: an MNIST model of ../shared/data/models)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileOnnx } from '../compiler/compile.js';
import { openDataset } from '../compiler/data/spec.js';
import { importOnnx } from '../compiler/import/onnx.js';
import { load, type EngineId, type LrmSession } from '../runtime/node.js';
import type { Feeds } from '../runtime/tensor.js';
import { projectRoot } from './cli.js';
import { soakInChromium } from './soak-browser.js';
import type { DeviceMemory, SoakRow } from './soak-row.js';

/** The model every row soaks unless it names another (mnist-8 on the slow in-browser WebGPU engines). */
export const DEFAULT_MODEL = 'mnist-cnn-pytorch.onnx';

/** Debian's chromium ships this SwiftShader (CPU) Vulkan driver: the WebGPU adapter of a machine without a GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
// ort-webgpu: Chromium inherits the driver list from this process.
const WEBGPU_ENGINES: readonly string[] = ['ort-node-webgpu', 'tfjs-webgpu', 'ort-webgpu'];

/**
 * Point Dawn at SwiftShader when no Vulkan driver list was given and the driver is installed (it must happen before
 * the first WebGPU engine starts in this process: Dawn reads the list once).
 */
export function useSwiftShaderIfNoDriverList(): boolean {
  if (process.env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return false;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return true;
}

async function deviceMemory(engine: EngineId): Promise<DeviceMemory | undefined> {
  if (!engine.startsWith('tfjs-')) return undefined;
  const tf = await import('@tensorflow/tfjs-core');
  const m = tf.memory() as ReturnType<typeof tf.memory> & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  return { numTensors: m.numTensors, numBytes: m.numBytes, numBytesInGPU: m.numBytesInGPU, numBytesAllocatedInGPU: m.numBytesAllocatedInGPU };
}

/** 64 digits run one at a time and all at once on one session: whether every output is bitwise the same. */
export async function concurrentMatchesSequential(session: LrmSession, feeds: Feeds[]): Promise<boolean> {
  const sequential: Float32Array[] = [];
  for (const f of feeds) sequential.push(Object.values(await session.run(f))[0]!.data as Float32Array);
  const concurrent = await Promise.all(feeds.map(async (f) => Object.values(await session.run(f))[0]!.data as Float32Array));
  return sequential.every((s, i) => s.length === concurrent[i]!.length && s.every((v, k) => Object.is(v, concurrent[i]![k])));
}

/** `maxSeconds`: stop the soak early when it has run that long (slow engines, e.g. WebGPU on SwiftShader); `runs` in the row is what ran. */
async function soak(lrm: Uint8Array, engine: EngineId, feeds: Feeds[], runs: number, maxSeconds = Infinity, warmup = 200): Promise<SoakRow> {
  const session = await load(lrm, { engine });
  try {
    for (let i = 0; i < warmup; i++) await session.run(feeds[i % feeds.length]!);
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const deviceBefore = await deviceMemory(engine);
    const t0 = performance.now();
    let done = 0;
    const samples: number[] = [];
    for (let i = 0; i < runs && performance.now() - t0 < maxSeconds * 1000; i++, done++) {
      await session.run(feeds[i % feeds.length]!);
      if ((i + 1) % 500 === 0) {
        samples.push(process.memoryUsage().rss / 2 ** 20);
        process.stderr.write(`[soak] ${engine}: ${i + 1}/${runs} runs, ${((performance.now() - t0) / 1000).toFixed(0)} s, RSS ${samples.at(-1)!.toFixed(1)} MiB\n`);
      }
    }
    const soakSeconds = (performance.now() - t0) / 1000;
    globalThis.gc?.();
    const after = process.memoryUsage().rss;
    const deviceAfter = await deviceMemory(engine);
    const equal = await concurrentMatchesSequential(session, feeds);
    const device =
      deviceBefore && deviceAfter
        ? { afterWarmup: deviceBefore, afterSoak: deviceAfter }
        : engine === 'ort-node-webgpu'
          ? 'onnxruntime-node exposes nothing about WebGPU device memory'
          : undefined;
    return {
      engine,
      runs: done,
      rssAfterWarmupMb: before / 2 ** 20,
      rssAfterSoakMb: after / 2 ** 20,
      growth: (after - before) / before,
      concurrentBitwiseEqual: equal,
      date: new Date().toISOString(),
      rssSamplesMb: samples,
      soakSeconds,
      ...(device ? { deviceMemory: device } : {}),
    };
  } finally {
    await session.release();
  }
}

/** A tfjs memory() figure for the table: GPU buffers where the backend has them, else tensor bytes. */
function deviceCell(r: SoakRow): string {
  if (r.deviceMemory === undefined) return '–';
  if (typeof r.deviceMemory === 'string') return 'not exposed';
  const kib = (m: DeviceMemory) =>
    m.numBytesInGPU !== undefined
      ? `${m.numTensors} tensors, GPU buffers ${(m.numBytesInGPU / 1024).toFixed(1)} KiB used / ${((m.numBytesAllocatedInGPU ?? 0) / 1024).toFixed(1)} KiB allocated`
      : `${m.numTensors} tensors, ${(m.numBytes / 1024).toFixed(1)} KiB`;
  return `${kib(r.deviceMemory.afterWarmup)} → ${kib(r.deviceMemory.afterSoak)}`;
}

/** Rows already in soak.json, each with its run's date (older files carry one date for all rows). */
function previousRows(file: string): SoakRow[] {
  if (!existsSync(file)) return [];
  const old = JSON.parse(readFileSync(file, 'utf8')) as { date?: string; rows: SoakRow[] };
  return old.rows.map((r) => ({ ...r, date: r.date ?? old.date }));
}

/** The engines a soak can name: a Node engine, or `<engine>@chromium` for one in headless Chromium (ort-webgpu: only there). */
export function parseEngine(name: string): { engine: EngineId; browser?: 'chromium' } {
  const [engine, where] = name.split('@') as [EngineId, string | undefined];
  if (where !== undefined && where !== 'chromium') throw new Error(`unknown browser "${where}" in ${name} (only @chromium)`);
  return where === 'chromium' || BROWSER_ONLY.includes(engine) ? { engine, browser: 'chromium' } : { engine };
}
const BROWSER_ONLY: readonly string[] = ['ort-webgpu'];

/** Rows are one per engine, place (Node or a browser) and model: a run replaces the rows it measured. */
const rowKey = (r: SoakRow) => `${r.engine}|${r.browser ?? 'node'}|${r.model ?? DEFAULT_MODEL}`;

/** The soak's file (int8, tiers 50% and 100%) of one MNIST model and the first 64 test digits as its feeds. */
export async function soakCase(data: string, file: string): Promise<{ lrm: Uint8Array; feeds: Feeds[] }> {
  const source = new Uint8Array(readFileSync(join(data, 'models', file)));
  const input = importOnnx(source).inputs[0]!;
  const { lrm } = await compileOnnx(source, { dtype: 'int8', tiers: [0.5, 1] });
  const digits = await openDataset(`mnist:${join(data, 'mnist')}`, { layout: input.shape, mean: [0.5], std: [0.5], limit: 64 });
  const feeds: Feeds[] = [];
  for await (const b of digits.batches(1)) feeds.push({ [input.name]: b.input });
  return { lrm, feeds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5000' },
      engines: { type: 'string', default: 'ort-node-cpu,ort-wasm,tfjs-wasm' },
      model: { type: 'string', default: DEFAULT_MODEL },
      out: { type: 'string' },
      data: { type: 'string' },
      'max-seconds': { type: 'string' },
      warmup: { type: 'string', default: '200' },
    },
  });
  const engines = values.engines!.split(',').map(parseEngine);
  if (engines.some((e) => WEBGPU_ENGINES.includes(e.engine)) && useSwiftShaderIfNoDriverList()) process.stderr.write(`[soak] WebGPU through SwiftShader (VK_ICD_FILENAMES=${SWIFTSHADER_ICD})\n`);
  const root = projectRoot();
  const data = values.data ?? join(root, '..', 'shared', 'data');
  const model = values.model!;
  const { lrm, feeds } = await soakCase(data, model);
  const out = values.out ?? join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const rows = previousRows(join(out, 'soak.json'));
  const [runs, warmup] = [Number(values.runs), Number(values.warmup)];
  const maxSeconds = values['max-seconds'] === undefined ? Infinity : Number(values['max-seconds']);
  for (const { engine, browser } of engines) {
    const measured = browser ? await soakInChromium(lrm, engine, feeds, runs, maxSeconds, warmup) : await soak(lrm, engine, feeds, runs, maxSeconds, warmup);
    // Rows of the default model carry no model field, as those written before --model existed.
    const row: SoakRow = { ...measured, warmupRuns: warmup, ...(model === DEFAULT_MODEL ? {} : { model }) };
    process.stderr.write(`[soak] ${JSON.stringify(row)}\n`);
    const at = rows.findIndex((r) => rowKey(r) === rowKey(row));
    if (at >= 0) rows[at] = row;
    else rows.push(row);
    // Written after every engine: a long WebGPU soak that dies later keeps the rows already measured.
    writeResults(out, rows);
  }
  process.stdout.write(readFileSync(join(out, 'soak.md'), 'utf8'));
}

/** "ort-webgpu in Chromium" or just the engine (Node). */
const placeCell = (r: SoakRow) => (r.browser ? `${r.engine} in Chromium` : r.engine);
const modelCell = (r: SoakRow) => (r.model ?? DEFAULT_MODEL).replace(/\.onnx$/, '');

/** In-browser rows: the RSS samples of the process types that moved by more than 1 MiB (the others are only named). */
function processSamplesLine(r: SoakRow): string {
  const series = Object.entries(r.rssSamplesByProcessMb!);
  const moved = series.filter(([, s]) => Math.max(...s) - Math.min(...s) > 1);
  const still = series.filter(([, s]) => Math.max(...s) - Math.min(...s) <= 1).map(([t]) => t);
  const list = moved.map(([t, s]) => `${t} ${s.map((m) => m.toFixed(1)).join(', ')}`).join('; ');
  return `- The same by process type, ${placeCell(r)}: ${list || 'none moved by more than 1 MiB'}${still.length ? ` (within 1 MiB: ${still.join(', ')})` : ''}.`;
}

/**
 * The growth without the process types Chromium started after the warm-up: headless Chromium starts a 45 MiB
 * utility:OnDeviceModelService about 3 minutes after launch, page or no page (seen on about:blank too), which lands
 * inside or outside a soak by its length alone.
 */
function lateHelpers(r: SoakRow): string {
  const { afterWarmup: a, afterSoak: b } = r.page!;
  const late = Object.keys(b.rssByProcessMb).filter((t) => !(t in a.rssByProcessMb));
  if (late.length === 0) return '';
  const lateMb = late.reduce((sum, t) => sum + b.rssByProcessMb[t]!, 0);
  const growth = (r.rssAfterSoakMb - lateMb - r.rssAfterWarmupMb) / r.rssAfterWarmupMb;
  return ` (${late.join(', ')}: started by Chromium after the warm-up; growth without it ${(100 * growth).toFixed(1)}%)`;
}

/** In-browser rows: where the RSS is (per Chromium process type) and the page's JS heap, after warm-up → after soak. */
function pageLine(r: SoakRow): string {
  const { afterWarmup: a, afterSoak: b } = r.page!;
  const types = [...new Set([...Object.keys(a.rssByProcessMb), ...Object.keys(b.rssByProcessMb)])];
  const rss = types.map((t) => `${t} ${(a.rssByProcessMb[t] ?? 0).toFixed(1)} → ${(b.rssByProcessMb[t] ?? 0).toFixed(1)}`).join(', ');
  return `- ${placeCell(r)} (${modelCell(r)}), after warm-up → after soak: RSS by process type (MiB) ${rss}${lateHelpers(r)}; PSS of all ${b.processes} processes ${a.pssMb.toFixed(1)} → ${b.pssMb.toFixed(1)} MiB; page JS heap used ${a.jsHeapUsedMb.toFixed(1)} → ${b.jsHeapUsedMb.toFixed(1)} MiB (after a GC)${r.gpuAdapter ? `; WebGPU adapter: ${r.gpuAdapter}` : ''}.`;
}

export function writeResults(out: string, rows: SoakRow[]): void {
  writeFileSync(join(out, 'soak.json'), JSON.stringify({ rows }, null, 2) + '\n');
  const md = [
    '# Soak and concurrency (int8 file, full tier)',
    '',
    'Generated by `node --expose-gc dist/bench/soak.js [--engines …] [--runs …] [--model …]`: per engine, 200 warm-up runs (more where warmupRuns in soak.json says so), then the given number of runs of 64 digits in turn; RSS after each (after a GC): of the whole process in Node, summed over all of Chromium\'s processes for the engines run in Chromium. Then the 64 digits one at a time and all 64 at once on the same session, outputs compared bitwise. Each run of the script replaces the rows of the engines (and model) it measured; "measured" is the date of the run that produced the row.',
    '',
    '| engine | model | runs | RSS after warm-up (MiB) | RSS after soak (MiB) | growth | 64 concurrent = sequential | soak time | device memory (engine\'s own count, after warm-up → after soak) | measured |',
    '|---|---|---:|---:|---:|---:|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${placeCell(r)} | ${modelCell(r)} | ${r.runs} | ${r.rssAfterWarmupMb.toFixed(1)} | ${r.rssAfterSoakMb.toFixed(1)} | ${(100 * r.growth).toFixed(1)}% | ${r.concurrentBitwiseEqual ? 'yes, bitwise' : '**no**'} | ${r.soakSeconds === undefined ? '–' : `${r.soakSeconds.toFixed(0)} s`} | ${deviceCell(r)} | ${r.date?.slice(0, 16).replace('T', ' ') ?? '–'} |`,
    ),
    '',
    ...rows.filter((r) => r.rssSamplesMb?.length).map((r) => `- RSS every 500 soak runs, ${placeCell(r)} (MiB, no GC): ${r.rssSamplesMb!.map((m) => m.toFixed(1)).join(', ')}.`),
    ...rows.filter((r) => r.rssSamplesByProcessMb).map(processSamplesLine),
    ...rows.filter((r) => r.page).map(pageLine),
    '',
    ...NOTES,
  ].join('\n');
  writeFileSync(join(out, 'soak.md'), md);
}

/** Fixed notes under the table (edit here, not in soak.md: the script rewrites it). */
const NOTES = [
  'Notes:',
  '',
  '- ort-node-webgpu and tfjs-webgpu ran on a machine without a GPU: Dawn over SwiftShader, the CPU Vulkan driver of Debian\'s chromium (`VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json`, the fallback adapter), on 2 shared cores; the runs are fewer where 5,000 did not fit in about 10 minutes. With SwiftShader the "GPU" buffers are host memory, so RSS includes them; on a real GPU, RSS would not show device memory.',
  '- Growth is measured from after the warm-up (200 runs; tfjs-webgpu 800, since after 200 its RSS still rose for ~500 runs: a first run at 200 showed +9.1%, then flat); where it is over 5%, the RSS samples above say whether it keeps rising (a leak) or rose early and levelled off (a warm-up longer than 200 runs).',
  '- Device memory: tfjs reports its own (tf.memory(): live tensors; on WebGPU the GPU buffers in use and allocated by its buffer pool); onnxruntime-node and onnxruntime-web expose nothing about WebGPU device memory. The ort and tfjs-wasm rows have no such figure.',
  '- In Chromium (bench/soak-browser.ts: headless Debian chromium with --enable-unsafe-webgpu, WebGPU on SwiftShader here, the page of the browser tests, the .lrm served over HTTP): RSS is VmRSS summed over the browser\'s process tree, so pages shared between its processes count once per process (PSS, which splits them, is given beside it); the GC before each reading is the page\'s (CDP HeapProfiler.collectGarbage), and the JS heap is CDP Runtime.getHeapUsage (WebAssembly memory is not in it, only in the renderer\'s RSS). The in-browser rows run mnist-8 (`--model mnist-8.onnx`): on SwiftShader ort-webgpu takes ~30 ms a run, tfjs-webgpu more. About 3 minutes after launch headless Chromium starts a utility:OnDeviceModelService of its own (45 MiB, also on about:blank); where a soak runs that long its lines above give the growth without it.',
  '- The first in-browser soak of ort-webgpu found a leak: its page\'s JS heap grew by ~130 bytes a run (5.4 → 7.3 MiB over 15,000 runs, too little to show against the ±5 MiB noise of the tree\'s ~1,070 MiB RSS) while ort-wasm\'s stayed flat. The device-loss watch raced every run against device.lost, a promise pending for the device\'s whole life, and each race left a reaction on it; runtime/engines/device-loss.ts (the watch of both WebGPU engines) now gives each run a promise of its own (test/runtime/device-loss-watch.test.ts). The ort-webgpu row is from after the fix (heap 5.4 → 5.7 MiB over 5,000 runs; 5.4 → 6.3 before it).',
  '- ort-wasm and tfjs-wasm in Chromium run mnist-8 5,000 times in seconds, so they were also run 100,000 times once (not in the table): ort-wasm −0.4%, flat throughout; tfjs-wasm +3.2%, from two steps of the renderer (WebAssembly memory grows in steps and never shrinks) before 25,000 runs, then flat for the last 75,000.',
  '',
];

if (process.argv[1]?.endsWith('soak.js')) await main();
