/** A small hand-built model for format tests: two dense initializers, one factored layer in two tiers. */
import type { FactorDType, ModelHeader } from '../../formats/model.js';
import { DataType } from '../../formats/model.js';
import { FACTOR_ELEMENT_BYTES } from '../../formats/codes.js';
import { completeHeader, PayloadBuilder, writeLrm, type LrmHeaderInput } from '../../formats/write.js';

export const INT64_MAX = 9223372036854775807n;

/** Bytes 0, 1, 2, ... offset by `seed`, so every block has distinct, recognisable content. */
export function filled(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

/** `refit`: tier 0 also gets a refit section (left factor and bias of its layer at rank 2), after tier 1. */
export function smallModel(factorDType: FactorDType = 'fp32', options: { refit?: boolean } = {}): { input: LrmHeaderInput; payload: Uint8Array } {
  const es = FACTOR_ELEMENT_BYTES[factorDType];
  // int8: float32-exact scales, one per output row of A (4) and one per component of B (2 per block); 0 is allowed.
  const int8 = factorDType === 'int8';
  const rightScales = (k: number) => (int8 ? { rightScales: [0.5 * k, Math.fround(0.1 * k)] } : {});
  const [rows, cols] = [4, 8];
  const p = new PayloadBuilder();
  const bias = p.append(filled(4 * 4, 1));
  const shape = p.append(filled(2 * 8, 2));
  const dense = p.seal(0);

  const t0 = p.length;
  const b0 = { tier: 0, rankBegin: 0, rankEnd: 2, left: p.append(filled(2 * rows * es, 3)), right: p.append(filled(2 * cols * es, 4)), ...rightScales(1) };
  const tier0 = p.seal(t0);
  const t1 = p.length;
  const b1 = { tier: 1, rankBegin: 2, rankEnd: 4, left: p.append(filled(2 * rows * es, 5)), right: p.append(filled(2 * cols * es, 6)), ...rightScales(2) };
  const tier1 = p.seal(t1);
  const r0 = p.length;
  const refitLayer = options.refit
    ? { layer: 0, left: p.append(filled(2 * rows * es, 7)), bias: p.append(filled(rows * 4, 8)), ...(int8 ? { leftScales: [0.5, 0.25, 0, 2] } : {}) }
    : undefined;
  const refit0 = refitLayer && { refit: { range: p.seal(r0), layers: [refitLayer] } };

  const input: LrmHeaderInput = {
    formatVersion: 1, // no dense-from-a-tier layers: the lowest version that holds it (formatVersionFor)
    compilerVersion: 'lowrank-edge test 0.0.0',
    source: {
      sha256: 'ab'.repeat(32),
      fileName: 'tiny.onnx',
      bytes: 12345,
      irVersion: 8,
      producer: 'pytorch',
      opsets: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    },
    graph: {
      inputs: [{ name: 'x', dataType: DataType.FLOAT, shape: ['batch', 8] }],
      outputs: [
        { name: 'y', dataType: DataType.FLOAT, shape: ['batch', 4] },
        { name: 'h', dataType: DataType.FLOAT, shape: ['batch', 4] },
      ],
      nodes: [
        { name: 'fc', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['h'], attributes: [] },
        { name: 'add', opType: 'Add', domain: '', inputs: ['h', 'bias'], outputs: ['y0'], attributes: [] },
        {
          name: 'const',
          opType: 'Constant',
          domain: '',
          inputs: [],
          outputs: ['c'],
          attributes: [{ name: 'value', kind: 'onnx', value: Uint8Array.from([0x0a, 0x05, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x2a, 0x00]) }],
        },
        {
          name: 'slice',
          opType: 'Slice',
          domain: '',
          inputs: ['y0', 'c', '', 'shape'],
          outputs: ['y', ''],
          attributes: [
            { name: 'ends', kind: 'int', value: INT64_MAX },
            { name: 'axes', kind: 'ints', value: [-1n, 0n, INT64_MAX, -(2n ** 63n)] },
            { name: 'alpha', kind: 'float', value: 0.25 },
            { name: 'scales', kind: 'floats', value: [0.5, -2, 1e-3].map(Math.fround) },
            { name: 'layout', kind: 'string', value: 'NCHW · ünïcode' },
            { name: 'names', kind: 'strings', value: ['a', '', 'b'] },
          ],
        },
      ],
      initializers: [
        { name: 'bias', dataType: DataType.FLOAT, dims: [4], range: bias },
        { name: 'shape', dataType: DataType.INT64, dims: [2], range: shape },
      ],
    },
    factorDType,
    layers: [
      {
        name: 'fc',
        nodeIndex: 0,
        kind: 'matmul',
        weight: 'W',
        weightDims: [cols, rows],
        rows,
        cols,
        maxRank: 4,
        sigma: [4, 3, 2.5, 0.125],
        blocks: [b0, b1],
        ...(int8 ? { leftScales: [Math.fround(1 / 127), 0.25, 0, 3] } : {}),
      },
    ],
    dense: { range: dense },
    tiers: [
      { index: 0, budget: 0.25, range: tier0, ranks: [2], params: 20 + 2 * (rows + cols), ...refit0 },
      { index: 1, budget: 0.5, range: tier1, ranks: [4], params: 20 + 4 * (rows + cols) },
    ],
    presets: [
      { name: 'kiosk', deviceClass: 'kiosk-256mb', engine: 'ort-wasm', tiers: 1, latencyMsP50: 12.5, latencyMsP95: 20, peakMemoryMb: 180, fidelity: 0.97 },
      // A measured zero must survive: absence is encoded separately from 0.
      { name: 'zero', deviceClass: 'bench', engine: 'ort-cpu', tiers: 2, latencyMsP50: 0, fidelity: 0 },
      { name: 'any', deviceClass: 'any', engine: 'any', tiers: 2 },
    ],
  };
  return { input, payload: p.finish() };
}

/** The small model written to bytes, with the header the reader should return. */
export async function smallFile(factorDType: FactorDType = 'fp32', options: { refit?: boolean } = {}): Promise<{ file: Uint8Array; header: ModelHeader; payload: Uint8Array }> {
  const { input, payload } = smallModel(factorDType, options);
  return { file: await writeLrm(input, payload), header: await completeHeader(input, payload), payload };
}

/**
 * The small model as format version 2 stores it when its layer runs dense from tier 1 (rank 4 of 4×8 is past
 * break-even): tier 0's own section is empty, its rank-2 block lies in a transient section after tier 1, and
 * tier 1 holds the dense 4×8 M instead of more components.
 */
export function denseFromTierModel(factorDType: FactorDType = 'fp32'): { input: LrmHeaderInput; payload: Uint8Array } {
  const base = smallModel(factorDType).input;
  const es = FACTOR_ELEMENT_BYTES[factorDType];
  const int8 = factorDType === 'int8';
  const [rows, cols] = [4, 8];
  const p = new PayloadBuilder();
  const bias = p.append(filled(4 * 4, 1));
  const shape = p.append(filled(2 * 8, 2));
  const dense = p.seal(0);
  const tier0 = p.seal(p.length);
  const t1 = p.length;
  const M = p.append(filled(rows * cols * es, 9));
  const tier1 = p.seal(t1);
  const x0 = p.length;
  const b0 = { tier: 0, rankBegin: 0, rankEnd: 2, left: p.append(filled(2 * rows * es, 3)), right: p.append(filled(2 * cols * es, 4)), ...(int8 ? { rightScales: [0.5, 0.25] } : {}) };
  const transient = p.seal(x0);
  const input: LrmHeaderInput = {
    ...base,
    formatVersion: 2,
    graph: { ...base.graph, initializers: [{ ...base.graph.initializers[0]!, range: bias }, { ...base.graph.initializers[1]!, range: shape }] },
    layers: [{ ...base.layers[0]!, blocks: [b0], denseTier: 1, dense: M, ...(int8 ? { denseScales: [0.5, 0.25, 0, 2] } : {}) }],
    dense: { range: dense },
    tiers: [
      { ...base.tiers[0]!, range: tier0, transient: [{ denseTier: 1, range: transient }] },
      { ...base.tiers[1]!, range: tier1 },
    ],
  };
  return { input, payload: p.finish() };
}
