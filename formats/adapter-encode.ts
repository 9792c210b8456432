/**
 * AdapterHeader → size-prefixed FlatBuffer (formats/lra.fbs). No validation here: the writer validates first, and
 * tests encode deliberately wrong headers.
 */
import * as flatbuffers from 'flatbuffers';
import {
  lra_Adapter as FbAdapter,
  lra_Base as FbBase,
  lra_ByteRange as FbByteRange,
  lra_Factor as FbFactor,
  lra_Layer as FbLayer,
} from './generated/lra_generated.js';
import { ADAPTER_FILE_IDENTIFIER } from './adapter-model.js';
import { ADAPTER_DTYPE_CODE, ADAPTER_KIND_CODE, type AdapterFactorEntry, type AdapterHeader, type AdapterLayerEntry } from './adapter-header.js';
import { fromHex } from './sha256.js';

type B = flatbuffers.Builder;

export function encodeAdapterHeader(header: AdapterHeader): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const compilerVersion = b.createString(header.compilerVersion);
  const base = FbBase.createBase(b, FbBase.createHeaderSha256Vector(b, fromHex(header.base.headerSha256)), b.createString(header.base.fileName));
  const notes = FbAdapter.createNotesVector(b, header.notes.map((n) => b.createString(n)));
  const layers = FbAdapter.createLayersVector(b, header.layers.map((l) => layer(b, l)));
  const payloadSha256 = FbAdapter.createPayloadSha256Vector(b, fromHex(header.payloadSha256));
  FbAdapter.startAdapter(b);
  FbAdapter.addFormatVersion(b, header.formatVersion);
  FbAdapter.addCompilerVersion(b, compilerVersion);
  FbAdapter.addKind(b, ADAPTER_KIND_CODE[header.kind]);
  FbAdapter.addDtype(b, ADAPTER_DTYPE_CODE[header.dtype]);
  FbAdapter.addBase(b, base);
  FbAdapter.addNotes(b, notes);
  FbAdapter.addLayers(b, layers);
  FbAdapter.addPayloadLength(b, BigInt(header.payloadLength));
  FbAdapter.addPayloadSha256(b, payloadSha256);
  b.finishSizePrefixed(FbAdapter.endAdapter(b), ADAPTER_FILE_IDENTIFIER);
  // asUint8Array is a view into the builder's oversized buffer: copy out just the FlatBuffer.
  return b.asUint8Array().slice();
}

function layer(b: B, l: AdapterLayerEntry): flatbuffers.Offset {
  // Strings and vectors first: nothing may be written while a table is open.
  const target = b.createString(l.target);
  const kron = l.kron ? FbLayer.createKronVector(b, l.kron) : 0;
  const factors = FbLayer.createFactorsVector(b, l.factors.map((f) => factor(b, f)));
  FbLayer.startLayer(b);
  FbLayer.addTarget(b, target);
  FbLayer.addRows(b, l.rows);
  FbLayer.addCols(b, l.cols);
  FbLayer.addRank(b, l.rank);
  FbLayer.addAlpha(b, l.alpha);
  if (kron !== 0) FbLayer.addKron(b, kron);
  FbLayer.addFactors(b, factors);
  return FbLayer.endLayer(b);
}

function factor(b: B, f: AdapterFactorEntry): flatbuffers.Offset {
  const scales = f.scales ? FbFactor.createScalesVector(b, f.scales) : 0;
  FbFactor.startFactor(b);
  // Structs are written inline, right before they are added to their table.
  FbFactor.addRange(b, FbByteRange.createByteRange(b, BigInt(f.range.offset), BigInt(f.range.length)));
  if (scales !== 0) FbFactor.addScales(b, scales);
  return FbFactor.endFactor(b);
}
