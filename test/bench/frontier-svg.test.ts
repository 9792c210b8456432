/** The bytes-vs-quality frontier chart (bench/frontier-svg.ts through report.ts's frontierChart) on hand-made rows. */
import { describe, expect, it } from 'vitest';
import { logTicks } from '../../bench/frontier-svg.js';
import { frontierChart } from '../../bench/report.js';
import { modelResult, row } from './hand-made.js';

const KIB = 1024;
const MIB = 1024 * KIB;

describe('frontier chart', () => {
  const m = modelResult([
    row('original', null, 1600 * KIB, 98.0),
    row('plain-svd', 0, 120 * KIB, 85.0), row('plain-svd', 1, 500 * KIB, 98.2),
    row('calibrated', 0, 120 * KIB, 90.0), row('calibrated', 1, 250 * KIB, 97.6), row('calibrated', 2, 1600 * KIB, 98.0),
    row('calibrated-int8', 0, 40 * KIB, 85.6), row('calibrated-int8', 1, 70 * KIB, 97.6),
    row('quant-int8', 0, 417 * KIB, 98.0),
  ]);
  const svg = frontierChart(m);

  it('is one SVG with a series group per method: lines through our tiers, a marker without a line for a baseline', () => {
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    const groups = [...svg.matchAll(/<g class="series" data-method="([^"]+)">([\s\S]*?)<\/g>/g)];
    expect(groups.map((g) => g[1])).toEqual(['plain-svd', 'calibrated', 'calibrated-int8', 'quant-int8']);
    for (const [, name, body] of groups) {
      const tiers = m.rows.filter((r) => r.method === name).length;
      if (name === 'quant-int8') {
        expect(body).not.toContain('<polyline');
        expect(body!.match(/<rect /g)).toHaveLength(1); // a square, unlike our circles
      } else {
        expect(body).toContain('<polyline');
        expect(body!.match(/<circle /g)).toHaveLength(tiers);
      }
    }
    // Legend: every method once, and the original.
    for (const name of ['original', 'plain-svd', 'calibrated', 'calibrated-int8', 'quant-int8']) expect(svg).toContain(`>${name}</text>`);
  });

  it('draws the reference lines at the .onnx file size and its fp16 size, and says how the latter is computed', () => {
    const refs = [...svg.matchAll(/<g class="reference" data-label="([^"]+)"><line x1="([\d.]+)"/g)];
    expect(refs.map((r) => r[1])).toEqual([`ONNX as fp16 ${(m.onnxFp16Bytes / KIB).toFixed(1)} KiB`, 'ONNX 1.56 MiB']);
    // Log scale: the fp16 line (about half the file) lies left of the file's line.
    expect(Number(refs[0]![2])).toBeLessThan(Number(refs[1]![2]));
    expect(svg).toContain('file bytes − float32 initializer bytes / 2');
    expect(svg).toContain('bytes to load (log scale)');
  });

  it('puts log ticks on round KiB and MiB values', () => {
    expect(logTicks(30 * KIB, 2.2 * MIB)).toEqual([50 * KIB, 100 * KIB, 200 * KIB, 500 * KIB, MIB, 2 * MIB]);
    expect(logTicks(5.5 * MIB, 35 * MIB)).toEqual([10, 20, 30].map((v) => v * MIB));
    expect(logTicks(5.5 * MIB, 9.5 * MIB)).toEqual([6, 7, 8, 9].map((v) => v * MIB));
  });
});
