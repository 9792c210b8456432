/**
 * Writing adapter files (.lra): store every factor in the model's dtype, one payload section hashed as a whole,
 * the header framed as a .lrm header is (formats/framing.ts). One section rather than one per layer: an adapter is
 * small and always read whole (the runtime applies every layer), so per-layer hashes would buy nothing.
 */
import { encodeAdapterHeader } from './adapter-encode.js';
import { lraCorrupt } from './adapter-errors.js';
import type { AdapterFactorEntry, AdapterHeader, AdapterLayerEntry } from './adapter-header.js';
import { ADAPTER_FORMAT_VERSION, adapterFactorShapes, adapterLayerProblem, type AdapterLayer, type AdapterModel } from './adapter-model.js';
import { storeFactor } from './adapter-storage.js';
import { validateAdapterHeader } from './adapter-validate.js';
import { frameFlatBuffer } from './framing.js';
import { sha256Hex } from './sha256.js';
import { PayloadBuilder } from './write.js';

export interface WriteAdapterOptions {
  /** Who writes the file, e.g. the trainer's version (shown by `lowrank inspect`). */
  compilerVersion?: string;
  /** Used in error messages. */
  fileName?: string;
}

/** The advice for an invalid model handed to the writer: the bug is in whoever built it. */
const FIX_MODEL = 'the AdapterModel given to writeAdapter is invalid: fix the trainer or exporter that built it';

/**
 * The whole .lra file. Throws LraFormatError (code LRM_CORRUPT_HEADER) for a model the reader would refuse: bad
 * dims, factors of the wrong length, values that are not finite (or overflow fp16), duplicate targets, a base hash
 * that is not 64 hex digits.
 */
export async function writeAdapter(model: AdapterModel, options: WriteAdapterOptions = {}): Promise<Uint8Array> {
  const fileName = options.fileName ?? 'the .lra file being written';
  const payload = new PayloadBuilder();
  const layers = model.layers.map((layer, i) => storeLayer(model, layer, i, payload, fileName));
  payload.seal(0);
  const bytes = payload.finish();
  const header: AdapterHeader = {
    formatVersion: ADAPTER_FORMAT_VERSION,
    compilerVersion: options.compilerVersion ?? '',
    kind: model.kind,
    dtype: model.dtype,
    base: { headerSha256: model.base.headerSha256.toLowerCase(), fileName: model.base.fileName },
    notes: [...model.notes],
    layers,
    payloadLength: bytes.length,
    payloadSha256: await sha256Hex(bytes),
  };
  validateAdapterHeader(header, fileName, FIX_MODEL);
  const framed = await frameFlatBuffer(encodeAdapterHeader(header));
  const file = new Uint8Array(framed.length + bytes.length);
  file.set(framed);
  file.set(bytes, framed.length);
  return file;
}

/** Appends one layer's stored factors to the payload and returns its header entry. */
function storeLayer(model: AdapterModel, layer: AdapterLayer, index: number, payload: PayloadBuilder, fileName: string): AdapterLayerEntry {
  const where = `layer ${index} ("${layer.target.slice(0, 80)}")`;
  const fail = (problem: string): never => {
    throw lraCorrupt(fileName, `${where}: ${problem}`, FIX_MODEL);
  };
  // Shapes first: quantising needs them, and the header check after layout would only see byte counts.
  const problem = adapterLayerProblem(model.kind, layer);
  if (problem !== undefined) fail(problem);
  const shapes = adapterFactorShapes(model.kind, layer);
  if (layer.factors.length !== shapes.length) fail(`it has ${layer.factors.length} factors, a ${model.kind} layer has ${shapes.length}`);
  const factors = layer.factors.map((values, j): AdapterFactorEntry => {
    const [rows, cols] = shapes[j]!;
    if (!(values instanceof Float32Array) || values.length !== rows * cols) fail(`factor ${j} must be a Float32Array of ${rows}×${cols} values, got ${values?.length} values`);
    try {
      const stored = storeFactor(values, rows, cols, model.dtype);
      return { range: payload.append(stored.bytes), ...(stored.scales ? { scales: Array.from(stored.scales) } : {}) };
    } catch (e) {
      if (e instanceof RangeError) return fail(`factor ${j}: ${e.message}`);
      throw e;
    }
  });
  const { target, rows, cols, rank, alpha, kron } = layer;
  return { target, rows, cols, rank, alpha, ...(kron ? { kron: [kron[0], kron[1]] } : {}), factors };
}
