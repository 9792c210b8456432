import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Attribute, DenseTensor, FactorBlock, FactoredLayer, NodeDef, Preset, ValueInfo } from '../../formats/model.js';
import { DATA_TYPE_SIZE, FORMAT_VERSION } from '../../formats/model.js';
import { LrmFormatError } from '../../formats/errors.js';
import { readLrm } from '../../formats/read.js';
import { FACTOR_ELEMENT_BYTES } from '../../formats/codes.js';
import { completeHeader, PayloadBuilder, writeLrm, type LrmHeaderInput } from '../../formats/write.js';
import { filled } from './fixture.js';

const text = fc.string({ unit: 'grapheme', maxLength: 6 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const float32 = fc.float({ noNaN: true });
const dim = fc.integer({ min: 0, max: 4 });
const measured = (max: number) => fc.option(fc.double({ min: 0, max, noNaN: true }), { nil: undefined });

const attribute: fc.Arbitrary<Omit<Attribute, 'name'>> = fc.oneof(
  int64.map((value) => ({ kind: 'int' as const, value })),
  float32.map((value) => ({ kind: 'float' as const, value })),
  text.map((value) => ({ kind: 'string' as const, value })),
  fc.array(int64, { maxLength: 4 }).map((value) => ({ kind: 'ints' as const, value })),
  fc.array(float32, { maxLength: 4 }).map((value) => ({ kind: 'floats' as const, value })),
  fc.array(text, { maxLength: 3 }).map((value) => ({ kind: 'strings' as const, value })),
  fc.uint8Array({ maxLength: 12 }).map((value) => ({ kind: 'onnx' as const, value })),
);

const layerShape = fc
  .record({ rows: fc.integer({ min: 1, max: 6 }), cols: fc.integer({ min: 1, max: 6 }), kind: fc.constantFrom('matmul', 'gemm', 'conv') })
  .chain((s) =>
    fc.record({
      ...Object.fromEntries(Object.entries(s).map(([k, v]) => [k, fc.constant(v)])),
      // Rank of this layer after each of up to 3 tiers: sorted cuts in 0..min(rows, cols).
      cuts: fc.array(fc.integer({ min: 0, max: Math.min(s.rows, s.cols) }), { minLength: 3, maxLength: 3 }).map((a) => a.sort((x, y) => x - y)),
      sigma: fc.array(fc.float({ min: 0, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 }),
    }),
  ) as fc.Arbitrary<{ rows: number; cols: number; kind: 'matmul' | 'gemm' | 'conv'; cuts: number[]; sigma: number[] }>;

const spec = fc.record({
  tag: text,
  factorDType: fc.constantFrom('fp32' as const, 'fp16' as const, 'int8' as const),
  // int8 scales: float32 values ≥ 0 (zero rows included), taken cyclically.
  scales: fc.array(fc.float({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 8 }),
  tierCount: fc.integer({ min: 1, max: 3 }),
  inputs: fc.array(fc.array(fc.oneof(dim, text), { maxLength: 3 }), { minLength: 1, maxLength: 3 }),
  initializers: fc.array(
    fc.record({ dataType: fc.constantFrom(...Object.keys(DATA_TYPE_SIZE).map(Number)), dims: fc.array(dim, { maxLength: 3 }) }),
    { maxLength: 3 },
  ),
  layers: fc.array(layerShape, { maxLength: 3 }),
  // Each extra node picks its inputs among the values defined before it, by index modulo their count.
  nodes: fc.array(
    fc.record({
      op: text,
      inputs: fc.array(fc.option(fc.nat(), { nil: undefined }), { maxLength: 3 }),
      attributes: fc.array(attribute, { maxLength: 3 }),
    }),
    { maxLength: 5 },
  ),
  presets: fc.array(
    fc.record({
      name: text,
      tierPick: fc.nat(),
      latencyMsP50: measured(1e4),
      latencyMsP95: measured(1e4),
      peakMemoryMb: measured(1e5),
      fidelity: measured(1),
    }),
    { maxLength: 3 },
  ),
  budget: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.nat(255),
});

/** Builds a valid header and payload from a random spec. Names get an index suffix so they stay unique. */
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

function build(s: Spec): { input: LrmHeaderInput; payload: Uint8Array } {
  const p = new PayloadBuilder();
  let seed = s.seed;
  const name = (kind: string, i: number) => `${s.tag}${kind}#${i}`;
  let scaleAt = 0;
  const scales = (n: number) => Array.from({ length: n }, () => s.scales[scaleAt++ % s.scales.length]);

  const inputs: ValueInfo[] = s.inputs.map((shape, i) => ({ name: name('in', i), dataType: 1, shape }));
  const initializers: DenseTensor[] = s.initializers.map((t, i) => {
    const length = t.dims.reduce((a, b) => a * b, 1) * DATA_TYPE_SIZE[t.dataType];
    return { name: name('init', i), dataType: t.dataType, dims: t.dims, range: p.append(filled(length, seed++)) };
  });
  const dense = p.seal(0);

  const values = [...inputs.map((v) => v.name), ...initializers.map((t) => t.name)];
  const nodes: NodeDef[] = [];
  const layers: FactoredLayer[] = s.layers.map((l, i) => {
    const weight = name('W', i);
    const out = name('fc', i);
    nodes.push({ name: out, opType: 'MatMul', domain: '', inputs: [values[i % values.length], weight], outputs: [out], attributes: [] });
    values.push(out);
    const cuts = l.cuts.slice(0, s.tierCount);
    const maxRank = cuts[cuts.length - 1];
    const weightDims = l.kind === 'conv' ? [l.rows, l.cols, 1, 1] : [l.cols, l.rows];
    const layer: FactoredLayer = { name: out, nodeIndex: nodes.length - 1, kind: l.kind, weight, weightDims, rows: l.rows, cols: l.cols, maxRank, sigma: l.sigma.slice(0, maxRank), blocks: [] };
    if (s.factorDType === 'int8') layer.leftScales = scales(l.rows);
    return layer;
  });
  s.nodes.forEach((n, i) => {
    const out = name('out', i);
    nodes.push({
      name: name('node', i),
      opType: n.op || 'Identity',
      domain: '',
      inputs: n.inputs.map((pick) => (pick === undefined ? '' : values[pick % values.length])),
      outputs: [out, ''],
      attributes: n.attributes.map((a, j) => ({ ...a, name: name('attr', j) }) as Attribute),
    });
    values.push(out);
  });

  const es = FACTOR_ELEMENT_BYTES[s.factorDType];
  const tiers = Array.from({ length: s.tierCount }, (_, k) => {
    const start = p.length;
    layers.forEach((l, i) => {
      const [begin, end] = [k === 0 ? 0 : s.layers[i].cuts[k - 1], s.layers[i].cuts[k]];
      if (end === begin) return;
      const block: FactorBlock = {
        tier: k,
        rankBegin: begin,
        rankEnd: end,
        left: p.append(filled((end - begin) * l.rows * es, seed++)),
        right: p.append(filled((end - begin) * l.cols * es, seed++)),
      };
      if (s.factorDType === 'int8') block.rightScales = scales(end - begin);
      l.blocks.push(block);
    });
    return { index: k, budget: s.budget * (k + 1), range: p.seal(start), ranks: s.layers.map((l) => l.cuts[k]), params: 1000 * k };
  });

  const presets: Preset[] = s.presets.map(({ tierPick, ...rest }) => {
    const preset: Preset = { name: rest.name, deviceClass: 'any', engine: 'any', tiers: 1 + (tierPick % s.tierCount) };
    for (const key of ['latencyMsP50', 'latencyMsP95', 'peakMemoryMb', 'fidelity'] as const) {
      if (rest[key] !== undefined) preset[key] = rest[key];
    }
    return preset;
  });

  const input: LrmHeaderInput = {
    formatVersion: FORMAT_VERSION,
    compilerVersion: `test ${s.tag}`,
    source: { sha256: '01'.repeat(32), fileName: `${s.tag}.onnx`, bytes: 1, irVersion: 9, producer: s.tag, opsets: [{ domain: '', version: 18 }] },
    graph: { inputs, outputs: [{ name: values[values.length - 1], dataType: 1, shape: [] }], nodes, initializers },
    factorDType: s.factorDType,
    layers,
    dense: { range: dense },
    tiers,
    presets,
  };
  return { input, payload: p.finish() };
}

describe('lrm property', () => {
  it('random valid headers and payloads round-trip exactly', async () => {
    await fc.assert(
      fc.asyncProperty(spec, async (s) => {
        const { input, payload } = build(s);
        const file = await writeLrm(input, payload);
        const read = await readLrm(file);
        expect(read.header).toEqual(await completeHeader(input, payload));
        expect(read.payload).toEqual(payload);
      }),
      { numRuns: 200 },
    );
  });
});

describe('lrm robustness', () => {
  it('arbitrary bytes behind a valid-looking start give a typed error', async () => {
    const start = Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 0, ...'LRM1'].map((c) => (typeof c === 'string' ? c.charCodeAt(0) : c)));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (tail, withStart) => {
        const bytes = withStart ? Uint8Array.from([...start, ...tail]) : tail;
        await expect(readLrm(bytes)).rejects.toBeInstanceOf(LrmFormatError);
      }),
      { numRuns: 300 },
    );
  });
});
