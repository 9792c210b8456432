/**
 * ModelHeader → size-prefixed FlatBuffer. No validation here: the writer validates by reading back,
 * and tests need to encode deliberately wrong headers.
 */
import * as flatbuffers from 'flatbuffers';
import {
  lrm_Attribute as FbAttribute,
  lrm_AttributeKind as FbAttributeKind,
  lrm_ByteRange as FbByteRange,
  lrm_DenseTensor as FbDenseTensor,
  lrm_Dim as FbDim,
  lrm_FactorBlock as FbFactorBlock,
  lrm_FactoredLayer as FbFactoredLayer,
  lrm_Graph as FbGraph,
  lrm_LayerRefit as FbLayerRefit,
  lrm_Model as FbModel,
  lrm_Node as FbNode,
  lrm_Opset as FbOpset,
  lrm_Preset as FbPreset,
  lrm_Section as FbSection,
  lrm_SourceInfo as FbSourceInfo,
  lrm_Tier as FbTier,
  lrm_TransientSection as FbTransientSection,
  lrm_ValueInfo as FbValueInfo,
} from './generated/lrm_generated.js';
import type {
  Attribute,
  ByteRange,
  DenseTensor,
  FactoredLayer,
  Graph,
  LayerRefitEntry,
  ModelHeader,
  NodeDef,
  Preset,
  SourceInfo,
  Tier,
  ValueInfo,
} from './model.js';
import { DENSE_STORAGE_CODE, FACTOR_DTYPE_CODE, LAYER_KIND_CODE, NOT_MEASURED } from './codes.js';
import { FILE_IDENTIFIER } from './model.js';
import { fromHex } from './sha256.js';

type Offset = flatbuffers.Offset;
type B = flatbuffers.Builder;

/**
 * What a header writes once however often it appears. Tensor names recur as one node's output and the next
 * nodes' inputs, and most nodes of an op type carry the same attribute list (a network's 3×3 convolutions all
 * have the same kernel_shape, pads, strides, dilations and group). FlatBuffers lets any number of fields point
 * at one string, table or vector, so readers need nothing new: sharing cut YOLO-FastestV2's header from 83 to
 * 66 KB (names) and to 50 KB (attribute lists).
 */
const shared = new WeakMap<B, { empty?: Offset; attributeLists: Map<string, Offset>; dims: Map<string, Offset> }>();

function cache(b: B): { empty?: Offset; attributeLists: Map<string, Offset>; dims: Map<string, Offset> } {
  let c = shared.get(b);
  if (!c) shared.set(b, (c = { attributeLists: new Map(), dims: new Map() }));
  return c;
}

/** A [long] vector of dims, shared by every tensor of the same shape (a network's biases and kernels repeat). */
function dimsVector(b: B, dims: readonly number[], create: (b: B, data: bigint[]) => Offset): Offset {
  const lists = cache(b).dims;
  const key = dims.join(',');
  let offset = lists.get(key);
  if (offset === undefined) lists.set(key, (offset = create(b, dims.map((d) => BigInt(d)))));
  return offset;
}

/**
 * A string, written once per header. "" is written as a string of its own (once): the shared writer turns it
 * into an absent field, which reads back as null, not "".
 */
function str(b: B, s: string): Offset {
  if (s !== '') return b.createSharedString(s);
  const c = cache(b);
  return (c.empty ??= b.createString(''));
}

/** Encodes the header; the result is exactly what finishSizePrefixed produces (size prefix included). */
export function encodeHeader(header: ModelHeader): Uint8Array {
  const b = new flatbuffers.Builder(4096);
  const compilerVersion = str(b, header.compilerVersion);
  const source = sourceInfo(b, header.source);
  const graph = graphTable(b, header.graph);
  const layers = FbModel.createLayersVector(b, header.layers.map((l) => factoredLayer(b, l)));
  const dense = section(b, header.dense.range, header.dense.sha256);
  const tiers = FbModel.createTiersVector(b, header.tiers.map((t) => tier(b, t)));
  const presets = FbModel.createPresetsVector(b, header.presets.map((p) => preset(b, p)));
  FbModel.startModel(b);
  FbModel.addFormatVersion(b, header.formatVersion);
  FbModel.addCompilerVersion(b, compilerVersion);
  FbModel.addSource(b, source);
  FbModel.addGraph(b, graph);
  FbModel.addFactorDtype(b, FACTOR_DTYPE_CODE[header.factorDType]);
  FbModel.addLayers(b, layers);
  FbModel.addDense(b, dense);
  FbModel.addTiers(b, tiers);
  FbModel.addPresets(b, presets);
  FbModel.addPayloadLength(b, BigInt(header.payloadLength));
  if (header.int4GroupSize !== undefined) FbModel.addInt4GroupSize(b, header.int4GroupSize);
  if (header.int4ScaleCodes) FbModel.addInt4ScaleCodes(b, true);
  b.finishSizePrefixed(FbModel.endModel(b), FILE_IDENTIFIER);
  // asUint8Array is a view into the builder's oversized buffer: copy out just the FlatBuffer.
  return b.asUint8Array().slice();
}

function strings(b: B, values: string[]): Offset[] {
  return values.map((s) => str(b, s));
}

function sourceInfo(b: B, s: SourceInfo): Offset {
  const opsets = s.opsets.map((o) => FbOpset.createOpset(b, str(b, o.domain), BigInt(o.version)));
  return FbSourceInfo.createSourceInfo(
    b,
    FbSourceInfo.createSha256Vector(b, fromHex(s.sha256)),
    str(b, s.fileName),
    BigInt(s.bytes),
    BigInt(s.irVersion),
    str(b, s.producer),
    FbSourceInfo.createOpsetsVector(b, opsets),
    // 0: field absent, so files compiled from a clean model stay byte-identical to before the field existed.
    s.normalised?.length ? FbSourceInfo.createNormalisedVector(b, strings(b, s.normalised)) : 0,
  );
}

function graphTable(b: B, g: Graph): Offset {
  return FbGraph.createGraph(
    b,
    FbGraph.createInputsVector(b, g.inputs.map((v) => valueInfo(b, v))),
    FbGraph.createOutputsVector(b, g.outputs.map((v) => valueInfo(b, v))),
    FbGraph.createNodesVector(b, g.nodes.map((n) => node(b, n))),
    FbGraph.createInitializersVector(b, g.initializers.map((t) => denseTensor(b, t))),
  );
}

function valueInfo(b: B, v: ValueInfo): Offset {
  const dims = v.shape.map((d) =>
    typeof d === 'string' ? FbDim.createDim(b, 0n, str(b, d)) : FbDim.createDim(b, BigInt(d), 0),
  );
  return FbValueInfo.createValueInfo(b, str(b, v.name), v.dataType, FbValueInfo.createShapeVector(b, dims));
}

function node(b: B, n: NodeDef): Offset {
  return FbNode.createNode(
    b,
    str(b, n.name),
    str(b, n.opType),
    str(b, n.domain),
    FbNode.createInputsVector(b, strings(b, n.inputs)),
    FbNode.createOutputsVector(b, strings(b, n.outputs)),
    attributeList(b, n.attributes),
  );
}

/** A node's attribute vector, shared with every earlier node whose attributes are the same. */
function attributeList(b: B, attributes: Attribute[]): Offset {
  const key = JSON.stringify(attributes, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v));
  const lists = cache(b).attributeLists;
  let offset = lists.get(key);
  if (offset === undefined) lists.set(key, (offset = FbNode.createAttributesVector(b, attributes.map((a) => attribute(b, a)))));
  return offset;
}

function attribute(b: B, a: Attribute): Offset {
  const name = str(b, a.name);
  switch (a.kind) {
    case 'int':
      return FbAttribute.createAttribute(b, name, FbAttributeKind.Int, a.value, 0, 0, 0, 0, 0, 0);
    case 'float': {
      // FlatBuffers leaves out a field equal to its default, and -0 == 0: written by force, -0 reads back as -0.
      if (Object.is(a.value, -0)) b.forceDefaults(true);
      const offset = FbAttribute.createAttribute(b, name, FbAttributeKind.Float, 0n, a.value, 0, 0, 0, 0, 0);
      b.forceDefaults(false);
      return offset;
    }
    case 'string':
      return FbAttribute.createAttribute(b, name, FbAttributeKind.String, 0n, 0, str(b, a.value), 0, 0, 0, 0);
    case 'ints':
      return FbAttribute.createAttribute(
        b, name, FbAttributeKind.Ints, 0n, 0, 0, FbAttribute.createIntsVector(b, a.value), 0, 0, 0,
      );
    case 'floats':
      return FbAttribute.createAttribute(
        b, name, FbAttributeKind.Floats, 0n, 0, 0, 0, FbAttribute.createFloatsVector(b, a.value), 0, 0,
      );
    case 'strings':
      return FbAttribute.createAttribute(
        b, name, FbAttributeKind.Strings, 0n, 0, 0, 0, 0, FbAttribute.createStringsVector(b, strings(b, a.value)), 0,
      );
    case 'onnx':
      return FbAttribute.createAttribute(
        b, name, FbAttributeKind.Onnx, 0n, 0, 0, 0, 0, 0, FbAttribute.createOnnxVector(b, a.value),
      );
  }
}

function denseTensor(b: B, t: DenseTensor): Offset {
  const name = str(b, t.name);
  const dims = dimsVector(b, t.dims, FbDenseTensor.createDimsVector);
  const scales = t.scales === undefined ? 0 : FbDenseTensor.createScalesVector(b, t.scales);
  FbDenseTensor.startDenseTensor(b);
  FbDenseTensor.addName(b, name);
  FbDenseTensor.addDataType(b, t.dataType);
  FbDenseTensor.addDims(b, dims);
  // Structs are written inline, right before they are added to their table.
  FbDenseTensor.addRange(b, byteRange(b, t.range));
  if (t.storage) FbDenseTensor.addStorage(b, DENSE_STORAGE_CODE[t.storage]);
  if (t.scaleAxis !== undefined) FbDenseTensor.addScaleAxis(b, t.scaleAxis);
  if (scales !== 0) FbDenseTensor.addScales(b, scales);
  if (t.low) FbDenseTensor.addLow(b, byteRange(b, t.low));
  if (t.mid) FbDenseTensor.addMid(b, byteRange(b, t.mid));
  return FbDenseTensor.endDenseTensor(b);
}

function byteRange(b: B, r: ByteRange): Offset {
  return FbByteRange.createByteRange(b, BigInt(r.offset), BigInt(r.length));
}

function factoredLayer(b: B, l: FactoredLayer): Offset {
  const blocks = l.blocks.map((blk) => {
    // Vectors are written before their table starts; a vector is written only when the field is set (int8).
    const rightScales = blk.rightScales === undefined ? 0 : FbFactorBlock.createRightScalesVector(b, blk.rightScales);
    FbFactorBlock.startFactorBlock(b);
    FbFactorBlock.addTier(b, blk.tier);
    FbFactorBlock.addRankBegin(b, blk.rankBegin);
    FbFactorBlock.addRankEnd(b, blk.rankEnd);
    FbFactorBlock.addLeft(b, byteRange(b, blk.left));
    FbFactorBlock.addRight(b, byteRange(b, blk.right));
    if (rightScales !== 0) FbFactorBlock.addRightScales(b, rightScales);
    if (blk.leftLow) FbFactorBlock.addLeftLow(b, byteRange(b, blk.leftLow));
    if (blk.rightLow) FbFactorBlock.addRightLow(b, byteRange(b, blk.rightLow));
    return FbFactorBlock.endFactorBlock(b);
  });
  // Vectors and strings first: nothing may be written while the table is open.
  const name = str(b, l.name);
  const weight = str(b, l.weight);
  const weightDims = dimsVector(b, l.weightDims, FbFactoredLayer.createWeightDimsVector);
  const sigma = FbFactoredLayer.createSigmaVector(b, l.sigma);
  const blockVector = FbFactoredLayer.createBlocksVector(b, blocks);
  const leftScales = l.leftScales === undefined ? 0 : FbFactoredLayer.createLeftScalesVector(b, l.leftScales);
  const denseScales = l.denseScales === undefined ? 0 : FbFactoredLayer.createDenseScalesVector(b, l.denseScales);
  FbFactoredLayer.startFactoredLayer(b);
  FbFactoredLayer.addName(b, name);
  FbFactoredLayer.addNodeIndex(b, l.nodeIndex);
  FbFactoredLayer.addKind(b, LAYER_KIND_CODE[l.kind]);
  FbFactoredLayer.addWeight(b, weight);
  FbFactoredLayer.addWeightDims(b, weightDims);
  FbFactoredLayer.addRows(b, BigInt(l.rows));
  FbFactoredLayer.addCols(b, BigInt(l.cols));
  FbFactoredLayer.addMaxRank(b, BigInt(l.maxRank));
  FbFactoredLayer.addSigma(b, sigma);
  FbFactoredLayer.addBlocks(b, blockVector);
  if (leftScales !== 0) FbFactoredLayer.addLeftScales(b, leftScales);
  if (l.denseTier !== undefined) FbFactoredLayer.addDenseTier(b, l.denseTier);
  if (l.dense) FbFactoredLayer.addDense(b, byteRange(b, l.dense));
  if (denseScales !== 0) FbFactoredLayer.addDenseScales(b, denseScales);
  if (l.denseStorage) FbFactoredLayer.addDenseStorage(b, DENSE_STORAGE_CODE[l.denseStorage]);
  if (l.denseLow) FbFactoredLayer.addDenseLow(b, byteRange(b, l.denseLow));
  if (l.denseMid) FbFactoredLayer.addDenseMid(b, byteRange(b, l.denseMid));
  return FbFactoredLayer.endFactoredLayer(b);
}

function section(b: B, range: ByteRange, sha256Hex: string): Offset {
  const digest = FbSection.createSha256Vector(b, fromHex(sha256Hex));
  FbSection.startSection(b);
  FbSection.addRange(b, byteRange(b, range));
  FbSection.addSha256(b, digest);
  return FbSection.endSection(b);
}

function tier(b: B, t: Tier): Offset {
  const sec = section(b, t.range, t.sha256);
  const ranks = FbTier.createRanksVector(b, t.ranks.map((r) => BigInt(r)));
  const refitSection = t.refit ? section(b, t.refit.range, t.refit.sha256) : 0;
  const refits = t.refit ? FbTier.createRefitsVector(b, t.refit.layers.map((r) => layerRefit(b, r))) : 0;
  const transient = t.transient?.length
    ? FbTier.createTransientVector(b, t.transient.map((x) => FbTransientSection.createTransientSection(b, section(b, x.range, x.sha256), x.denseTier)))
    : 0;
  FbTier.startTier(b);
  FbTier.addIndex(b, t.index);
  FbTier.addBudget(b, t.budget);
  FbTier.addSection(b, sec);
  FbTier.addRanks(b, ranks);
  FbTier.addParams(b, BigInt(t.params));
  if (refitSection !== 0) FbTier.addRefit(b, refitSection);
  if (refits !== 0) FbTier.addRefits(b, refits);
  if (transient !== 0) FbTier.addTransient(b, transient);
  if (t.bits !== undefined) FbTier.addBits(b, t.bits);
  return FbTier.endTier(b);
}

function layerRefit(b: B, r: LayerRefitEntry): Offset {
  const scales = r.leftScales === undefined ? 0 : FbLayerRefit.createLeftScalesVector(b, r.leftScales);
  FbLayerRefit.startLayerRefit(b);
  FbLayerRefit.addLayer(b, r.layer);
  FbLayerRefit.addLeft(b, byteRange(b, r.left));
  if (r.bias) FbLayerRefit.addBias(b, byteRange(b, r.bias));
  if (scales !== 0) FbLayerRefit.addLeftScales(b, scales);
  if (r.dense) FbLayerRefit.addDense(b, true);
  return FbLayerRefit.endLayerRefit(b);
}

function preset(b: B, p: Preset): Offset {
  return FbPreset.createPreset(
    b,
    str(b, p.name),
    str(b, p.deviceClass),
    str(b, p.engine),
    p.tiers,
    p.latencyMsP50 ?? NOT_MEASURED,
    p.latencyMsP95 ?? NOT_MEASURED,
    p.peakMemoryMb ?? NOT_MEASURED,
    p.fidelity ?? NOT_MEASURED,
  );
}
