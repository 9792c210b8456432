/**
 * Size-prefixed FlatBuffer → plain ModelHeader objects.
 *
 * The TypeScript flatbuffers runtime has no verifier, and out-of-range reads there return zeros instead of
 * throwing, so this decoder guards what could make it loop or lie: every vector length is bounded by the
 * buffer size, every 64-bit number must be a safe integer, every enum must be known, required tables must
 * be present. Semantic checks (ranges, graph, ranks) live in validate.ts.
 */
import * as flatbuffers from 'flatbuffers';
import {
  lrm_Attribute as FbAttribute,
  lrm_AttributeKind as FbAttributeKind,
  lrm_ByteRange as FbByteRange,
  lrm_DenseStorage as FbDenseStorage,
  lrm_DenseTensor as FbDenseTensor,
  lrm_FactoredLayer as FbFactoredLayer,
  lrm_Graph as FbGraph,
  lrm_Model as FbModel,
  lrm_Node as FbNode,
  lrm_Preset as FbPreset,
  lrm_Section as FbSection,
  lrm_SourceInfo as FbSourceInfo,
  lrm_Tier as FbTier,
  lrm_ValueInfo as FbValueInfo,
} from './generated/lrm_generated.js';
import { DENSE_STORAGE_CODE, FACTOR_DTYPE_CODE, LAYER_KIND_CODE, NOT_MEASURED } from './codes.js';
import { LrmCorruptHeaderError } from './errors.js';
import type {
  Attribute,
  ByteRange,
  DenseTensor,
  FactorBlock,
  FactorDType,
  FactoredLayer,
  Graph,
  LayerKind,
  LayerRefitEntry,
  ModelHeader,
  NodeDef,
  Preset,
  SourceInfo,
  Tier,
  TierRefit,
  TransientSection,
  ValueInfo,
} from './model.js';
import { groupedBits, type TierBits } from './model.js';
import { toHex } from './sha256.js';

const SHA256_BYTES = 32;
/** Smallest encoding of one vector element, used to bound lengths: a table or string offset is 4 bytes. */
const OFFSET_BYTES = 4;

/** The root table of a size-prefixed buffer (`bytes` holds at least the size prefix and the FlatBuffer). */
export function rootTable(bytes: Uint8Array): FbModel {
  return FbModel.getSizePrefixedRootAsModel(new flatbuffers.ByteBuffer(bytes));
}

export function decodeHeader(root: FbModel, bufferBytes: number, fileName: string): ModelHeader {
  return new Decoder(fileName, bufferBytes).model(root);
}

function invert<K extends string, V extends number>(table: Record<K, V>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
const FACTOR_DTYPES = invert<FactorDType, number>(FACTOR_DTYPE_CODE);
const DENSE_STORAGES = invert<NonNullable<DenseTensor['storage']>, number>(DENSE_STORAGE_CODE);
const LAYER_KINDS = invert<LayerKind, number>(LAYER_KIND_CODE);

class Decoder {
  constructor(
    private readonly fileName: string,
    private readonly bufferBytes: number,
  ) {}

  private fail(problem: string): never {
    throw new LrmCorruptHeaderError(this.fileName, problem);
  }

  /** A vector length that fits in the buffer: a damaged length must not make us loop for billions of steps. */
  private bound(length: number, elementBytes: number, where: string): number {
    if (length < 0 || length * elementBytes > this.bufferBytes) {
      this.fail(`${where} claims ${length} entries, more than the header can hold`);
    }
    return length;
  }

  private list<T>(length: number, elementBytes: number, where: string, get: (i: number) => T): T[] {
    return Array.from({ length: this.bound(length, elementBytes, where) }, (_, i) => get(i));
  }

  private int(v: bigint | null, where: string): number {
    const n = Number(v ?? 0n);
    if (!Number.isSafeInteger(n)) this.fail(`${where} = ${v} is too large`);
    return n;
  }

  private table<T>(t: T | null, where: string): T {
    if (t === null) this.fail(`${where} is missing`);
    return t;
  }

  private range(r: FbByteRange | null, where: string): ByteRange {
    const t = this.table(r, where);
    return { offset: this.int(t.offset(), `${where}.offset`), length: this.int(t.length(), `${where}.length`) };
  }

  private digest(length: number, bytes: Uint8Array | null, where: string): string {
    if (length !== SHA256_BYTES || bytes === null) this.fail(`${where} has ${length} bytes, expected ${SHA256_BYTES}`);
    return toHex(bytes);
  }

  model(m: FbModel): ModelHeader {
    const factorDType = FACTOR_DTYPES.get(m.factorDtype());
    if (factorDType === undefined) this.fail(`factor dtype code ${m.factorDtype()} is unknown`);
    const dense = this.section(this.table(m.dense(), 'dense section'), 'dense section');
    return {
      formatVersion: m.formatVersion(),
      compilerVersion: m.compilerVersion() ?? '',
      source: this.source(this.table(m.source(), 'source info')),
      graph: this.graph(this.table(m.graph(), 'graph')),
      factorDType,
      layers: this.list(m.layersLength(), OFFSET_BYTES, 'layers', (i) => this.layer(m.layers(i)!, `layers[${i}]`, factorDType)),
      dense,
      tiers: this.list(m.tiersLength(), OFFSET_BYTES, 'tiers', (i) => this.tier(m.tiers(i)!, `tiers[${i}]`, factorDType === 'int8')),
      presets: this.list(m.presetsLength(), OFFSET_BYTES, 'presets', (i) => this.preset(m.presets(i)!)),
      payloadLength: this.int(m.payloadLength(), 'payload length'),
      ...(m.int4GroupSize() > 0 ? { int4GroupSize: m.int4GroupSize() } : {}),
      ...(m.int4ScaleCodes() ? { int4ScaleCodes: true } : {}),
    };
  }

  private source(s: FbSourceInfo): SourceInfo {
    return {
      sha256: this.digest(s.sha256Length(), s.sha256Array(), 'source SHA-256'),
      fileName: s.fileName() ?? '',
      bytes: this.int(s.bytes(), 'source size'),
      irVersion: this.int(s.irVersion(), 'source IR version'),
      producer: s.producer() ?? '',
      opsets: this.list(s.opsetsLength(), OFFSET_BYTES, 'source opsets', (i) => {
        const o = s.opsets(i)!;
        return { domain: o.domain() ?? '', version: this.int(o.version(), `opset ${i} version`) };
      }),
      ...(s.normalisedLength() > 0
        ? { normalised: this.list(s.normalisedLength(), OFFSET_BYTES, 'source normalisation notes', (i) => s.normalised(i) ?? '') }
        : {}),
    };
  }

  private graph(g: FbGraph): Graph {
    return {
      inputs: this.list(g.inputsLength(), OFFSET_BYTES, 'graph inputs', (i) => this.valueInfo(g.inputs(i)!, `graph input ${i}`)),
      outputs: this.list(g.outputsLength(), OFFSET_BYTES, 'graph outputs', (i) => this.valueInfo(g.outputs(i)!, `graph output ${i}`)),
      nodes: this.list(g.nodesLength(), OFFSET_BYTES, 'graph nodes', (i) => this.node(g.nodes(i)!, `node ${i}`)),
      initializers: this.list(g.initializersLength(), OFFSET_BYTES, 'initializers', (i) =>
        this.denseTensor(g.initializers(i)!, `initializer ${i}`),
      ),
    };
  }

  private valueInfo(v: FbValueInfo, where: string): ValueInfo {
    return {
      name: v.name() ?? '',
      dataType: v.dataType(),
      shape: this.list(v.shapeLength(), OFFSET_BYTES, `${where} shape`, (i) => {
        const d = v.shape(i)!;
        return d.param() ?? this.int(d.value(), `${where} dim ${i}`);
      }),
    };
  }

  private node(n: FbNode, where: string): NodeDef {
    return {
      name: n.name() ?? '',
      opType: n.opType() ?? '',
      domain: n.domain() ?? '',
      inputs: this.list(n.inputsLength(), OFFSET_BYTES, `${where} inputs`, (i) => n.inputs(i) ?? ''),
      outputs: this.list(n.outputsLength(), OFFSET_BYTES, `${where} outputs`, (i) => n.outputs(i) ?? ''),
      attributes: this.list(n.attributesLength(), OFFSET_BYTES, `${where} attributes`, (i) =>
        this.attribute(n.attributes(i)!, `${where} attribute ${i}`),
      ),
    };
  }

  private attribute(a: FbAttribute, where: string): Attribute {
    const name = a.name() ?? '';
    switch (a.kind()) {
      case FbAttributeKind.Int:
        return { name, kind: 'int', value: a.i() };
      case FbAttributeKind.Float:
        return { name, kind: 'float', value: a.f() };
      case FbAttributeKind.String:
        return { name, kind: 'string', value: a.s() ?? '' };
      case FbAttributeKind.Ints:
        return { name, kind: 'ints', value: this.list(a.intsLength(), 8, `${where} ints`, (i) => a.ints(i) ?? 0n) };
      case FbAttributeKind.Floats:
        return { name, kind: 'floats', value: this.list(a.floatsLength(), 4, `${where} floats`, (i) => a.floats(i) ?? 0) };
      case FbAttributeKind.Strings:
        return { name, kind: 'strings', value: this.list(a.stringsLength(), OFFSET_BYTES, `${where} strings`, (i) => a.strings(i) ?? '') };
      case FbAttributeKind.Onnx: {
        this.bound(a.onnxLength(), 1, `${where} onnx bytes`);
        // Copy, so a kept header does not pin the whole file buffer in memory.
        return { name, kind: 'onnx', value: (a.onnxArray() ?? new Uint8Array(0)).slice() };
      }
      default:
        return this.fail(`${where} ("${name}") has unknown kind code ${a.kind()}`);
    }
  }

  private dims(length: number, get: (i: number) => bigint | null, where: string): number[] {
    return this.list(length, 8, where, (i) => this.int(get(i), `${where}[${i}]`));
  }

  private denseTensor(t: FbDenseTensor, where: string): DenseTensor {
    const tensor: DenseTensor = {
      name: t.name() ?? '',
      dataType: t.dataType(),
      dims: this.dims(t.dimsLength(), (i) => t.dims(i), `${where} dims`),
      range: this.range(t.range(), `${where} byte range`),
    };
    const storage = t.storage();
    if (storage !== FbDenseStorage.AsIs) {
      const known = DENSE_STORAGES.get(storage);
      if (known === undefined) this.fail(`${where} has unknown storage code ${storage}`);
      tensor.storage = known;
    }
    const int8 = tensor.storage === 'int8';
    if (int8 || groupedBits(tensor.storage) !== undefined) tensor.scaleAxis = t.scaleAxis();
    const scales = this.scales(t.scalesLength(), int8, `${where} scales`, (j) => t.scales(j));
    if (scales !== undefined) tensor.scales = scales;
    const low = t.low();
    if (low !== null) tensor.low = this.range(low, `${where} low plane range`);
    const mid = t.mid();
    if (mid !== null) tensor.mid = this.range(mid, `${where} mid plane range`);
    return tensor;
  }

  /**
   * int8 scale vectors are read whenever the dtype is int8 (absent reads as empty, which validation rejects where
   * scales are needed) and, for fp32/fp16, only when non-empty, so that validation can reject stray scales.
   * Element-wise reads: the generated *Array() accessors make a Float32Array view, which throws on a header
   * that does not sit 4-byte aligned in its buffer.
   */
  private scales(length: number, int8: boolean, where: string, get: (i: number) => number | null): number[] | undefined {
    if (length === 0 && !int8) return undefined;
    return this.list(length, 4, where, (i) => get(i) ?? 0);
  }

  private layer(l: FbFactoredLayer, where: string, dtype: FactorDType): FactoredLayer {
    const kind = LAYER_KINDS.get(l.kind());
    if (kind === undefined) this.fail(`${where} has unknown layer kind code ${l.kind()}`);
    const int8 = dtype === 'int8';
    const layer: FactoredLayer = {
      name: l.name() ?? '',
      nodeIndex: l.nodeIndex(),
      kind,
      weight: l.weight() ?? '',
      weightDims: this.dims(l.weightDimsLength(), (i) => l.weightDims(i), `${where} weight dims`),
      rows: this.int(l.rows(), `${where} rows`),
      cols: this.int(l.cols(), `${where} cols`),
      maxRank: this.int(l.maxRank(), `${where} max rank`),
      sigma: this.list(l.sigmaLength(), 4, `${where} sigma`, (i) => l.sigma(i) ?? 0),
      blocks: this.list(l.blocksLength(), OFFSET_BYTES, `${where} blocks`, (i): FactorBlock => {
        const b = l.blocks(i)!;
        const block: FactorBlock = {
          tier: b.tier(),
          rankBegin: b.rankBegin(),
          rankEnd: b.rankEnd(),
          left: this.range(b.left(), `${where} block ${i} left range`),
          right: this.range(b.right(), `${where} block ${i} right range`),
        };
        const rightScales = this.scales(b.rightScalesLength(), int8, `${where} block ${i} right scales`, (j) => b.rightScales(j));
        if (rightScales !== undefined) block.rightScales = rightScales;
        const [leftLow, rightLow] = [b.leftLow(), b.rightLow()];
        if (leftLow !== null) block.leftLow = this.range(leftLow, `${where} block ${i} left low plane range`);
        if (rightLow !== null) block.rightLow = this.range(rightLow, `${where} block ${i} right low plane range`);
        return block;
      }),
    };
    const leftScales = this.scales(l.leftScalesLength(), int8, `${where} left scales`, (j) => l.leftScales(j));
    if (leftScales !== undefined) layer.leftScales = leftScales;
    const dense = l.dense();
    if (l.denseTier() >= 0) {
      if (dense === null) this.fail(`${where} runs dense from tier ${l.denseTier()} but has no dense weight`);
      layer.denseTier = l.denseTier();
      layer.dense = this.range(dense, `${where} dense range`);
      const storage = l.denseStorage();
      if (storage === FbDenseStorage.Int8) layer.denseStorage = 'int8';
      else if (storage === FbDenseStorage.Int3) layer.denseStorage = 'int3';
      else if (storage !== FbDenseStorage.AsIs) this.fail(`${where} has dense storage code ${storage}; only int8 or int3 (in int4 files) may differ from the factors`);
      const denseScales = this.scales(l.denseScalesLength(), int8 || layer.denseStorage === 'int8', `${where} dense scales`, (j) => l.denseScales(j));
      if (denseScales !== undefined) layer.denseScales = denseScales;
      const low = l.denseLow();
      if (low !== null) layer.denseLow = this.range(low, `${where} dense low plane range`);
      const mid = l.denseMid();
      if (mid !== null) layer.denseMid = this.range(mid, `${where} dense mid plane range`);
    } else if (dense !== null || l.denseScalesLength() > 0 || l.denseStorage() !== FbDenseStorage.AsIs || l.denseLow() !== null || l.denseMid() !== null) {
      this.fail(`${where} has a dense weight but no tier it runs dense from`);
    }
    return layer;
  }

  private section(s: FbSection, where: string): { range: ByteRange; sha256: string } {
    return {
      range: this.range(s.range(), `${where} byte range`),
      sha256: this.digest(s.sha256Length(), s.sha256Array(), `${where} SHA-256`),
    };
  }

  private tier(t: FbTier, where: string, int8: boolean): Tier {
    const section = this.section(this.table(t.section(), `${where} section`), where);
    return {
      index: t.index(),
      budget: t.budget(),
      range: section.range,
      sha256: section.sha256,
      ranks: this.list(t.ranksLength(), 8, `${where} ranks`, (i) => this.int(t.ranks(i), `${where} rank ${i}`)),
      params: this.int(t.params(), `${where} params`),
      ...this.refit(t, where, int8),
      ...this.transient(t, where),
      ...this.bits(t, where),
    };
  }

  private bits(t: FbTier, where: string): { bits?: TierBits } {
    const bits = t.bits();
    if (bits === 0) return {};
    if (bits !== 4 && bits !== 8) this.fail(`${where} runs at ${bits} bits; a tier is 8 (with low planes), 4 (int3 with mid planes) or as stored (0)`);
    return { bits };
  }

  private transient(t: FbTier, where: string): { transient?: TransientSection[] } {
    if (t.transientLength() === 0) return {};
    const transient = this.list(t.transientLength(), OFFSET_BYTES, `${where} transient sections`, (i): TransientSection => {
      const x = t.transient(i)!;
      const at = `${where} transient section ${i}`;
      return { denseTier: x.denseTier(), ...this.section(this.table(x.section(), `${at} section`), at) };
    });
    return { transient };
  }

  private refit(t: FbTier, where: string, int8: boolean): { refit?: TierRefit } {
    const s = t.refit();
    if (s === null) {
      if (t.refitsLength() > 0) this.fail(`${where} has refits but no refit section`);
      return {};
    }
    const { range, sha256 } = this.section(s, `${where} refit section`);
    const layers = this.list(t.refitsLength(), OFFSET_BYTES, `${where} refits`, (i): LayerRefitEntry => {
      const r = t.refits(i)!;
      const at = `${where} refit ${i}`;
      const entry: LayerRefitEntry = { layer: r.layer(), left: this.range(r.left(), `${at} left range`) };
      const bias = r.bias();
      if (bias !== null) entry.bias = this.range(bias, `${at} bias range`);
      const scales = this.scales(r.leftScalesLength(), int8, `${at} left scales`, (j) => r.leftScales(j));
      if (scales !== undefined) entry.leftScales = scales;
      if (r.dense()) entry.dense = true;
      return entry;
    });
    return { refit: { range, sha256, layers } };
  }

  private preset(p: FbPreset): Preset {
    const preset: Preset = {
      name: p.name() ?? '',
      deviceClass: p.deviceClass() ?? '',
      engine: p.engine() ?? '',
      tiers: p.tiers(),
    };
    // Absent and "not measured" both read as NOT_MEASURED; leave the optional field out then.
    const measured = (v: number): number | undefined => (v === NOT_MEASURED ? undefined : v);
    const fields = {
      latencyMsP50: measured(p.latencyMsP50()),
      latencyMsP95: measured(p.latencyMsP95()),
      peakMemoryMb: measured(p.peakMemoryMb()),
      fidelity: measured(p.fidelity()),
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) preset[k as keyof typeof fields] = v;
    return preset;
  }
}
