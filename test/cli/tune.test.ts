/**
 * `lowrank tune` on mnist-cnn-pytorch: presets from measurements on this machine, written atomically; a bad
 * engine or a budget nothing meets is a typed one-line error that leaves the input untouched; preset 'auto'
 * then picks the tuned preset. Timings are never asserted as numbers (the machine is shared): only structure
 * and ordering.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeader } from '../../formats/read.js';
import { load } from '../../runtime/node.js';
import { cli, cliJson, cliOk, DATA, MNIST_CNN } from './helpers.js';

interface TuneJson {
  output: string;
  table: string;
  engine: string;
  deviceClass: string;
  headroom: number;
  tiers: Array<{ tiers: number; latencyMsP50: number; latencyMsP95: number; predictedMsP50: number; memoryMb: number; fidelity?: number }>;
  presets: Array<{ name: string; deviceClass: string; engine: string; tiers: number; latencyMsP50: number; latencyMsP95: number; peakMemoryMb: number; fidelity?: number }>;
}

const MNIST = ['--calib', `mnist:${join(DATA, 'mnist')}`, '--calib-limit', '64', '--mean', '0.5', '--std', '0.5'];
const FAST = ['--runs', '15', '--layer-runs', '5', '--warmup', '3'];
const JSON_OUT = [...FAST, '--json'];

let dir: string;
let lrm: string;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lowrank-tune-'));
  lrm = join(dir, 'cnn.lrm');
  cliOk('compile', MNIST_CNN, '-o', lrm);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lowrank tune', () => {
  let generous: TuneJson;
  let tight: TuneJson;
  let tightMs: number;
  let tuned: string;

  it('a generous budget keeps every tier, a tight one at most as many; both are written beside the compiled presets', () => {
    const before = sha(lrm);
    tuned = join(dir, 'cnn-tuned.lrm');
    generous = cliJson<TuneJson>('tune', lrm, '--engine', 'ort-node-cpu', '--latency-ms', '1000', '-o', tuned, ...MNIST, ...JSON_OUT);
    expect(sha(lrm)).toBe(before);
    const all = generous.tiers.length;
    expect(generous.tiers.map((t) => t.tiers)).toEqual(Array.from({ length: all }, (_, i) => i + 1));
    for (const t of generous.tiers) {
      expect(t.latencyMsP95).toBeGreaterThanOrEqual(t.latencyMsP50);
      // The prediction (full p50 plus the per-layer table's difference) is clamped at 0: on a model this small, layers
      // timed alone cost more than the whole model does end to end, so a lower tier can predict 0 on a busy machine.
      expect(Number.isFinite(t.predictedMsP50) && t.predictedMsP50 >= 0).toBe(true);
    }
    // Memory is the estimate: it grows with the tiers.
    expect(generous.tiers.map((t) => t.memoryMb)).toEqual([...generous.tiers.map((t) => t.memoryMb)].sort((a, b) => a - b));
    expect(generous.presets).toEqual([
      expect.objectContaining({ name: 'ort-node-cpu-1000ms', engine: 'ort-node-cpu', deviceClass: generous.deviceClass, tiers: all, fidelity: 1 }),
    ]);

    // Three times the fastest tier's p50 (room for noise on a shared machine): something fits, never more tiers than before.
    tightMs = Number((3 * Math.min(...generous.tiers.map((t) => t.latencyMsP50))).toFixed(4));
    tight = cliJson<TuneJson>('tune', tuned, '--engine', 'node-cpu', '--latency-ms', String(tightMs), '--name', 'kiosk', ...MNIST, ...JSON_OUT);
    const [preset] = tight.presets;
    expect(preset).toMatchObject({ name: 'kiosk', engine: 'ort-node-cpu' });
    expect(preset.tiers).toBeLessThanOrEqual(all);
    expect(preset.latencyMsP50).toBeLessThanOrEqual(tightMs * (1 - tight.headroom) + 1e-3);
    expect(preset.fidelity).toBeGreaterThan(0);
    expect(preset.fidelity).toBeLessThanOrEqual(1);
    expect(preset.peakMemoryMb).toBe(Math.ceil(tight.tiers[preset.tiers - 1].memoryMb));
  });

  it('the file verifies and keeps the compiled presets next to the tuned ones; the table feeds compile --cost', async () => {
    const bytes = new Uint8Array(readFileSync(tuned));
    const { header } = await readHeader(bytes, { totalLength: bytes.length });
    expect(header.presets.map((p) => p.name)).toEqual(['compact', 'balanced', 'full', 'ort-node-cpu-1000ms', 'kiosk']);
    const inspected = cliJson('inspect', tuned, '--json');
    expect(inspected).toBeTruthy();

    const table = JSON.parse(readFileSync(tight.table, 'utf8'));
    expect(Object.keys(table.layers)).toEqual(header.layers.map((l) => l.name));
    const recompiled = join(dir, 'cnn-latency.lrm');
    cliOk('compile', MNIST_CNN, '-o', recompiled, '--cost', `latency:${tight.table}`);
    expect(leftovers()).toEqual([]);
  });

  it("preset 'auto' with the budget picks the largest tuned preset measured within it, not an unmeasured one", async () => {
    const tunedPresets = [...generous.presets, ...tight.presets].filter((p) => p.latencyMsP50 <= tightMs);
    const best = Math.max(...tunedPresets.map((p) => p.tiers));
    const session = await load(tuned, { preset: 'auto', latencyMs: tightMs });
    try {
      expect(tunedPresets.map((p) => p.name)).toContain(session.choice.preset);
      expect(session.tiers).toBe(best);
      expect(session.choice.latencyMsP50).toBeLessThanOrEqual(tightMs);
    } finally {
      await session.release();
    }
  });

  it('an unknown engine is a one-line error; the input is untouched and no temporary file is left', () => {
    const before = sha(tuned);
    const r = cli('tune', tuned, '--engine', 'ort-nope', '--latency-ms', '10');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^lowrank: error: unknown engine "ort-nope"; this runtime has: ort-node-cpu/);
    expect(sha(tuned)).toBe(before);
    expect(leftovers()).toEqual([]);
  });

  it('a budget no tier meets says how fast the fastest tier is, and changes nothing', () => {
    const before = sha(tuned);
    const r = cli('tune', tuned, '--engine', 'ort-node-cpu', '--latency-ms', '0.0001', ...FAST);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^lowrank: error: no tier of .*cnn-tuned\.lrm fits the budget: the fastest is \d tiers? at p50 \d+\.\d\d ms, over 0\.0001 ms/);
    expect(sha(tuned)).toBe(before);
    expect(readdirSync(dir).filter((f) => f.startsWith('cnn-tuned') && f.endsWith('.json'))).toEqual(['cnn-tuned.ort-node-cpu.latency.json']);
    expect(leftovers()).toEqual([]);
  });
});
