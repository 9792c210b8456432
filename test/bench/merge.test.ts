/**
 * `--merge` (bench/merge.ts): a rerun model replaces its namesake in the committed results, the others stay with
 * their own run's date, and the report says which sections came from earlier runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../bench/cli.js';
import { BenchMergeError, mergeResults } from '../../bench/merge.js';
import { markdown } from '../../bench/report.js';
import type { BenchResult } from '../../bench/types.js';

const committed = (): BenchResult => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'bench', 'results', 'compression.json'), 'utf8'));

describe('bench --merge', () => {
  it('replaces the rerun model in place, keeps and dates the others, and says so in the report', () => {
    const previous = committed();
    const ids = previous.models.map((m) => m.id);
    const target = ids[2]!;
    const rerun = structuredClone(previous.models[2]!);
    rerun.rows = rerun.rows.map((r) => ({ ...r, latencyMsP50: r.latencyMsP50 + 1 }));
    rerun.seconds = 1;
    rerun.ran = { date: '2099-01-01T00:00:00.000Z', loadAverage: { start: [1, 2, 3], end: [4, 5, 6] } };
    const fresh: BenchResult = {
      ...previous,
      environment: { ...previous.environment, date: '2099-01-01T00:00:00.000Z' },
      settings: { ...previous.settings, models: [target] },
      totalSeconds: 1,
      models: [rerun],
      rows: rerun.rows,
    };
    const merged = mergeResults(previous, fresh);
    expect(merged.models.map((m) => m.id)).toEqual(ids);
    expect(merged.models[2]).toBe(rerun);
    expect(merged.rows).toEqual(merged.models.flatMap((m) => m.rows));
    expect(merged.rows.filter((r) => r.model === target)).toEqual(rerun.rows);
    expect(merged.totalSeconds).toBeCloseTo(previous.models.reduce((s, m) => s + m.seconds, 0) - previous.models[2]!.seconds + 1, 6);
    const kept = merged.models.filter((m) => m.id !== target);
    const env = previous.environment;
    for (const m of kept) expect(m.ran).toEqual(previous.models.find((p) => p.id === m.id)!.ran ?? { date: env.date, loadAverage: { start: env.loadAverage.start, end: env.loadAverage.end } });
    const md = markdown(merged);
    expect(md).toContain(`Merged (\`--merge\`): ${kept.map((m) => m.id).join(', ')} kept from earlier runs`);
    expect(md).toContain('- Run: 2099-01-01T00:00:00.000Z, load average 1/2/3 at the start, 4/5/6 at the end');
  });

  it('refuses to mix a --quick run into full results, and --merge without --models before running anything', async () => {
    const previous = committed();
    expect(() => mergeResults(previous, { ...previous, settings: { ...previous.settings, quick: true } })).toThrow(BenchMergeError);
    const out = mkdtempSync(join(tmpdir(), 'lowrank-merge-'));
    try {
      await expect(main(['--merge', '--out', out], { out: () => {}, err: () => {} })).rejects.toThrow(/name at least one/);
      await expect(main(['--merge', '--models', 'mnist-cnn-pytorch', '--out', out], { out: () => {}, err: () => {} })).rejects.toThrow(/there is none: run without --merge first/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
