/**
 * bench/soak.ts for the engines that run in a page (ort-webgpu; ort-wasm, tfjs-wasm, tfjs-webgpu as
 * `<engine>@chromium`): headless Chromium opens the browser tests' page (tools/bundle-page.ts), loads the .lrm over
 * HTTP into one session and runs the warm-up and the soak in chunks driven from here, so that memory can be read
 * between chunks. Memory is what a user would see: VmRSS summed over Chromium's whole process tree (WebGPU buffers
 * live in the GPU process, onnxruntime-web's WebAssembly memory in the renderer), plus the page's JS heap.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import type { EngineId } from '../runtime/node.js';
import type { Feeds } from '../runtime/tensor.js';
import { callPage, openBundlePage, startPageServer, type OpenedSession, type SequentialAndConcurrent } from '../tools/bundle-page.js';
import { launchTrackedChromium } from '../tools/chromium.js';
import type { PageMemory, SoakRow } from './soak-row.js';


/** Which bundle of the page runs each engine. */
const ENTRY: Readonly<Record<string, 'wasm' | 'webgpu' | 'tfjs'>> = { 'ort-webgpu': 'webgpu', 'ort-wasm': 'wasm', 'tfjs-wasm': 'tfjs', 'tfjs-webgpu': 'tfjs' };
/** Runs per page.evaluate call: small enough for --max-seconds to stop a slow soak on time. */
const CHUNK = 100;
const SAMPLE_EVERY = 500;
const MIB = 2 ** 20;

interface ProcessInfo {
  pid: number;
  type: string;
  rssBytes: number;
  pssBytes: number;
}

/** Every live process under `root` (itself included), found by parent id in /proc: Chromium forks its helpers through a zygote. */
export function processTree(root: number): ProcessInfo[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(`/proc/${name}/stat`);
    if (stat === undefined) continue;
    // The command name in field 2 may hold spaces and parentheses: the fields after the last ')' are "state ppid …".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: ProcessInfo[] = [];
  for (const queue = [root]; queue.length > 0; ) {
    const pid = queue.shift()!;
    queue.push(...(children.get(pid) ?? []));
    const status = readProc(`/proc/${pid}/status`);
    const rss = status?.match(/^VmRSS:\s+(\d+) kB/m);
    const pss = readProc(`/proc/${pid}/smaps_rollup`)?.match(/^Pss:\s+(\d+) kB/m);
    if (rss) out.push({ pid, type: processType(readProc(`/proc/${pid}/cmdline`) ?? ''), rssBytes: Number(rss[1]) * 1024, pssBytes: Number(pss?.[1] ?? 0) * 1024 });
  }
  return out;
}

/** Chromium's --type= (the browser process has none); utilities by service ("utility:NetworkService"). */
function processType(cmdline: string): string {
  // Chromium rewrites its helpers' command lines with spaces between the arguments (the browser's keeps NULs).
  const args = cmdline.split(/[\0 ]/);
  const type = args.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
  const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.split('.').pop();
  return type === 'utility' && sub ? `utility:${sub}` : type;
}

/** A /proc file, or undefined when its process has exited meanwhile. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** RSS per process type and the page's JS heap, after the page's own GC. */
async function pageMemory(pid: number, cdp: CDPSession): Promise<PageMemory> {
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const tree = processTree(pid);
  const rssByProcessMb = rssByType(tree);
  const pssMb = tree.reduce((sum, p) => sum + p.pssBytes, 0) / MIB;
  return { rssByProcessMb, processes: tree.length, pssMb, jsHeapUsedMb: heap.usedSize / MIB, jsHeapTotalMb: heap.totalSize / MIB };
}

function rssByType(tree: readonly ProcessInfo[]): Record<string, number> {
  const mb: Record<string, number> = {};
  for (const p of tree) mb[p.type] = (mb[p.type] ?? 0) + p.rssBytes / MIB;
  return mb;
}

const totalRssMb = (m: PageMemory) => Object.values(m.rssByProcessMb).reduce((a, b) => a + b, 0);

/** The 64 feeds as one float32 file (the page's openSession splits it back by dims) and those dims. */
export function packFeeds(feeds: Feeds[]): { bytes: Float32Array; dims: number[] } {
  const tensors = feeds.map((f) => Object.values(f)[0]!);
  const size = tensors[0]!.data.length;
  const bytes = new Float32Array(tensors.length * size);
  tensors.forEach((t, i) => bytes.set(t.data as Float32Array, i * size));
  return { bytes, dims: [...tensors[0]!.dims] };
}

/** What Chromium says its WebGPU adapter is (SwiftShader on a machine without a GPU). */
function gpuAdapter(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }).gpu;
    const info = (await gpu?.requestAdapter())?.info;
    return info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : undefined;
  });
}

/**
 * One engine in Chromium: `warmup` runs, a GC and a memory reading, up to `runs` runs (fewer if `maxSeconds` pass)
 * with RSS samples every 500, a GC and a reading, then the 64 inputs in turn and all at once, compared bitwise.
 */
export async function soakInChromium(lrm: Uint8Array, engine: EngineId, feeds: Feeds[], runs: number, maxSeconds: number, warmup: number): Promise<SoakRow> {
  const entry = ENTRY[engine];
  if (!entry) throw new Error(`${engine} does not run in a browser (in-page engines: ${Object.keys(ENTRY).join(', ')})`);
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-soak-'));
  const { bytes, dims } = packFeeds(feeds);
  writeFileSync(join(dir, 'model.lrm'), lrm);
  writeFileSync(join(dir, 'inputs.f32'), bytes);
  const server = await startPageServer(dir);
  const chromium = await launchTrackedChromium();
  try {
    const page = await openBundlePage(chromium.browser, server.url);
    const cdp = await page.context().newCDPSession(page);
    const opened = await callPage<OpenedSession>(page, 'openSession', { entry, model: 'model.lrm', options: { engine }, inputs: 'inputs.f32', dims });
    // A soak of the fallback engine would say nothing about this one.
    if (opened.engine !== engine) throw new Error(`${engine} did not start in Chromium: the page runs ${opened.engine} (${JSON.stringify(opened.fallbacks)})`);
    const adapter = engine.endsWith('webgpu') ? await gpuAdapter(page) : undefined;
    await runChecked(page, engine, 0, warmup);
    const before = await pageMemory(chromium.pid, cdp);
    const { done, samples, byProcess, seconds } = await soakRuns(page, chromium.pid, engine, runs, maxSeconds);
    const after = await pageMemory(chromium.pid, cdp);
    const both = await callPage<SequentialAndConcurrent>(page, 'sequentialAndConcurrent');
    await callPage(page, 'releaseSession');
    return {
      engine,
      browser: 'chromium',
      runs: done,
      rssAfterWarmupMb: totalRssMb(before),
      rssAfterSoakMb: totalRssMb(after),
      growth: (totalRssMb(after) - totalRssMb(before)) / totalRssMb(before),
      concurrentBitwiseEqual: both.engine === engine && JSON.stringify(both.sequential) === JSON.stringify(both.concurrent),
      date: new Date().toISOString(),
      rssSamplesMb: samples,
      rssSamplesByProcessMb: byProcess,
      soakSeconds: seconds,
      ...(engine === 'ort-webgpu' ? { deviceMemory: 'onnxruntime-web exposes nothing about WebGPU device memory' } : {}),
      page: { afterWarmup: before, afterSoak: after },
      ...(adapter ? { gpuAdapter: adapter } : {}),
    };
  } finally {
    await chromium.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` runs from input `first`; fails if the session has fallen back to another engine meanwhile. */
async function runChecked(page: Page, engine: string, first: number, count: number): Promise<void> {
  const now = await callPage<string>(page, 'runOpen', { first, count });
  if (now !== engine) throw new Error(`${engine} fell back to ${now} during the soak`);
}

/** The soak proper: chunks of CHUNK runs, the tree's RSS (no GC) every SAMPLE_EVERY, in total and per process type. */
async function soakRuns(page: Page, pid: number, engine: string, runs: number, maxSeconds: number): Promise<{ done: number; samples: number[]; byProcess: Record<string, number[]>; seconds: number }> {
  const t0 = performance.now();
  const samples: number[] = [];
  // A type absent from a sample (a helper Chromium started later, or ended) reads 0 there.
  const byProcess: Record<string, number[]> = {};
  let done = 0;
  while (done < runs && performance.now() - t0 < maxSeconds * 1000) {
    const count = Math.min(CHUNK, runs - done);
    await runChecked(page, engine, done, count);
    done += count;
    if (done % SAMPLE_EVERY === 0) {
      const mb = rssByType(processTree(pid));
      for (const type of new Set([...Object.keys(byProcess), ...Object.keys(mb)])) (byProcess[type] ??= samples.map(() => 0)).push(mb[type] ?? 0);
      samples.push(Object.values(mb).reduce((a, b) => a + b, 0));
      process.stderr.write(`[soak] ${engine} in Chromium: ${done}/${runs} runs, ${((performance.now() - t0) / 1000).toFixed(0)} s, RSS ${samples.at(-1)!.toFixed(1)} MiB\n`);
    }
  }
  return { done, samples, byProcess, seconds: (performance.now() - t0) / 1000 };
}
