/** Shared test helpers: where the real data lives, scratch directories, and hand-built JPEGs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** /work/shared/data, found relative to this file so tests do not depend on the working directory. */
export const SHARED = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

/** A fresh scratch directory outside the repo; call the returned cleanup in afterAll/finally. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-data-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A baseline 8×8 JPEG with one block per component, each block a flat colour `values[c]` (0..255).
 * jpeg-js's encoder only writes YCbCr, so grayscale (1 component) and Adobe CMYK (4 components) test images
 * are assembled here: quantisation table of ones, so the DC coefficient is 8·(v − 128); a DC Huffman table
 * giving category k the 4-bit code k; an AC table whose only symbol is end-of-block (code "0").
 */
export function tinyJpeg(values: number[], adobeTransform?: number): Uint8Array {
  const nc = values.length;
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  if (adobeTransform !== undefined) segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0, 0, 0, 0, adobeTransform]);
  segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]);
  const sof = [8, 0, 8, 0, 8, nc];
  for (let c = 0; c < nc; c++) sof.push(c + 1, 0x11, 0);
  segment(0xc0, sof);
  const dcCounts = new Array<number>(16).fill(0);
  dcCounts[3] = 12; // twelve codes of length 4
  segment(0xc4, [0x00, ...dcCounts, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const acCounts = new Array<number>(16).fill(0);
  acCounts[0] = 1; // one code of length 1: EOB
  segment(0xc4, [0x10, ...acCounts, 0x00]);
  const sos = [nc];
  for (let c = 0; c < nc; c++) sos.push(c + 1, 0x00);
  sos.push(0, 63, 0);
  segment(0xda, sos);
  // Entropy-coded data.
  let bits = '';
  for (const v of values) {
    const dc = 8 * (v - 128);
    const cat = dc === 0 ? 0 : Math.floor(Math.log2(Math.abs(dc))) + 1;
    bits += cat.toString(2).padStart(4, '0');
    if (cat > 0) bits += (dc > 0 ? dc : dc + (1 << cat) - 1).toString(2).padStart(cat, '0');
    bits += '0'; // EOB
  }
  while (bits.length % 8 !== 0) bits += '1';
  for (let i = 0; i < bits.length; i += 8) {
    const byte = parseInt(bits.slice(i, i + 8), 2);
    out.push(byte);
    if (byte === 0xff) out.push(0x00); // byte stuffing
  }
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

/** Min, max and mean of a typed array (spreading a large one into Math.min overflows the stack). */
export function stats(a: ArrayLike<number>): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: sum / a.length };
}
