/**
 * The fuzzer in CI (issue 16): 3,000 seeded mutations of real int8 .lrm files (half raw, half with the header
 * re-hashed), each loaded and run once on ort-node-cpu in a child process (bench/fuzz.ts). The child must survive
 * every case (an onnxruntime abort would end it early: its last line names the case), and every case must end in a
 * run or one of our typed errors within 2 s. Long runs: `npm run fuzz -- --cases 100000`. Adapter files (.lra) are
 * fuzzed in this process (bench/fuzz-adapters.ts): reading one runs no native code that could abort.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzzAdapters } from '../../bench/fuzz-adapters.js';
import { ROOT } from '../cli/helpers.js';

describe('fuzzing .lrm files', () => {

  it('3,000 raw and re-hashed mutations: no abort, no hang, no untyped error', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/bench/fuzz.js'), '--cases', '3000', '--seed', '11'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    const lines = r.stdout.trim().split('\n');
    const last = lines.at(-1) ?? '';
    expect(r.signal, `the process died at: ${lines.at(-2)}`).toBeNull();
    expect(last.startsWith('result '), `no result line; last: ${last}\n${r.stderr}`).toBe(true);
    const report = JSON.parse(last.slice('result '.length)) as { cases: number; findings: unknown[]; outcomes: Record<string, number>; peakRssMb: number };
    expect(report.cases).toBe(3000);
    expect(report.findings).toEqual([]);
    // The re-hashed half reached the graph checks and the engine, not only the hash check.
    expect(report.outcomes['rehashed typed:LrmCorruptHeaderError']).toBeGreaterThan(500);
    expect(report.outcomes['rehashed ran']).toBeGreaterThan(0);
    expect(report.peakRssMb).toBeLessThan(1024);
    expect(r.status).toBe(0);
  }, 300_000);
});

describe('fuzzing .lra adapter files', () => {
  it('600 raw and re-hashed mutations of lora, loha and lokr adapters: every one read or refused with a typed error', async () => {
    const report = await fuzzAdapters(600, 17);
    expect(report.cases).toBe(600);
    expect(report.findings).toEqual([]);
    // Raw flips are caught by the checksums; re-hashed ones reach the decoder and the header checks.
    expect(report.outcomes['raw typed:LraFormatError LRM_CHECKSUM']).toBeGreaterThan(200);
    expect(report.outcomes['rehashed typed:LraFormatError LRM_CORRUPT_HEADER']).toBeGreaterThan(50);
  });
});
