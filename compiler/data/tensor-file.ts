/**
 * Reads the input file of `lowrank run --input <file>` into named tensors for the model's inputs:
 *  - `.npy`: one array, bound to the model's only input;
 *  - `.json`: `{"<input>": {"dims": [...], "dataType": "float32", "data": [...]}, ...}` (dims and dataType are
 *    optional: nesting gives the dims, the model gives the type; a bare nested array may stand for the object),
 *    or, for a single-input model, just a nested number array;
 *  - `.jpg`/`.jpeg`: decoded and preprocessed (see image.ts) to the model's [N, C, H, W] input, N = 1 (jpegFeeds,
 *    also for JPEG bytes that come from elsewhere, e.g. an HTTP request).
 * Data whose shape differs from the model's only by a reshape with the same element count (a flat 784-vector for
 * a [N, 784] or [1, 1, 28, 28] input) is reshaped; anything else is an error naming both shapes.
 */
import { extname } from 'node:path';
import { DataFormatError, DataShapeError, DataSpecError, UnsupportedDataError } from './errors.js';
import { readFileOrThrow } from './files.js';
import { decodeJpeg, preprocessImage, resolvePreprocess, type Preprocess } from './image.js';
import { parseNpy } from './npy.js';
import {
  allocData,
  convertTensor,
  elementCount,
  formatShape,
  hostDataTypeFromOnnx,
  isHostDataType,
  type HostDataType,
  type HostTensor,
} from './tensor.js';

/** What the reader needs to know about a model input (structurally the same as formats' ValueInfo). */
export interface ModelInput {
  name: string;
  /** ONNX TensorProto data type code: 1 float, 6 int32, 7 int64, 9 bool, 11 double, 2 uint8. */
  dataType: number;
  /** A number is a fixed dimension; a string (or a negative number) is symbolic, e.g. "batch". */
  shape: ReadonlyArray<number | string>;
}

/** The inputs that must be fed (graph inputs that are also initializers should be left out by the caller). */
export interface InputModel {
  inputs: ReadonlyArray<ModelInput>;
}

function isFixed(d: number | string): d is number {
  return typeof d === 'number' && d >= 0;
}

/**
 * Makes a tensor fit a model input: converts the element type where that is lossless in intent (see
 * convertTensor), checks the rank and fixed dims, and reshapes when only the element count agrees.
 */
export function fitToInput(t: HostTensor, input: ModelInput, source: string): HostTensor {
  const want = hostDataTypeFromOnnx(input.dataType);
  const converted = convertTensor(t, want, `${source}: input '${input.name}'`);
  const shape = input.shape;
  const matches = t.dims.length === shape.length && shape.every((d, k) => !isFixed(d) || d === t.dims[k]);
  if (matches) return converted;
  // Same number of elements as the model's shape with every symbolic dim set to 1: a reshape is unambiguous.
  const target = shape.map((d) => (isFixed(d) ? d : 1));
  if (elementCount(target) === converted.data.length) return { ...converted, dims: target };
  throw new DataShapeError(
    `${source}: input '${input.name}' expects shape ${formatShape(shape)} but the data has shape ${formatShape(t.dims)}`,
  );
}

function singleInput(model: InputModel, source: string, kind: string): ModelInput {
  if (model.inputs.length !== 1) {
    const names = model.inputs.map((i) => i.name).join(', ');
    throw new DataSpecError(
      `${source}: a ${kind} can only feed a single-input model, this one has ${model.inputs.length} (${names}); use a .json file naming each input`,
    );
  }
  return model.inputs[0]!;
}

/** Flattens a nested JSON array, inferring its dims and checking that it is rectangular. */
function flattenNested(value: unknown, where: string): { dims: number[]; values: unknown[] } {
  const dims: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) dims.push(v.length);
  const values: unknown[] = [];
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === dims.length) {
      if (Array.isArray(v)) throw new DataFormatError(`${where}: ragged array at ${path} (deeper than its siblings)`);
      values.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      throw new DataFormatError(`${where}: ragged array at ${path}: expected ${dims[depth]} elements at depth ${depth}`);
    }
    v.forEach((x, k) => walk(x, depth + 1, `${path}[${k}]`));
  };
  walk(value, 0, '');
  return { dims, values };
}

/** Converts JSON scalars to a typed array of `dataType`, checking each value (no silent NaN or truncation). */
function jsonValuesToData(values: unknown[], dataType: HostDataType, where: string): HostTensor['data'] {
  const out = allocData(dataType, values.length);
  const bad = (k: number, why: string): never => {
    throw new DataFormatError(`${where}: element ${k} (${JSON.stringify(values[k])}) ${why}`);
  };
  values.forEach((v, k) => {
    switch (dataType) {
      case 'float32':
      case 'float64':
        if (typeof v !== 'number') bad(k, 'is not a number');
        (out as Float32Array | Float64Array)[k] = v as number;
        break;
      case 'int64':
        // Strings carry int64 values beyond 2^53, which JSON numbers cannot hold exactly.
        if (typeof v === 'string' && /^-?\d+$/.test(v)) {
          const b = BigInt(v);
          if (BigInt.asIntN(64, b) !== b) bad(k, 'does not fit in int64');
          (out as BigInt64Array)[k] = b;
        } else if (typeof v === 'number' && Number.isSafeInteger(v)) (out as BigInt64Array)[k] = BigInt(v);
        else bad(k, 'is not an integer (use a string for values beyond 2^53)');
        break;
      case 'int32':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) bad(k, 'is not an int32');
        (out as Int32Array)[k] = v as number;
        break;
      case 'uint8':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) bad(k, 'is not a uint8 (0..255)');
        (out as Uint8Array)[k] = v as number;
        break;
      case 'bool':
        if (v === true || v === 1) (out as Uint8Array)[k] = 1;
        else if (v === false || v === 0) (out as Uint8Array)[k] = 0;
        else bad(k, 'is not a boolean');
        break;
    }
  });
  return out;
}

/** One JSON tensor entry: `{dims?, dataType?, data}` or a bare (nested) array or scalar. */
function jsonTensor(entry: unknown, input: ModelInput, source: string): HostTensor {
  const where = `${source}: input '${input.name}'`;
  let dims: number[] | undefined;
  let dataType: HostDataType = hostDataTypeFromOnnx(input.dataType);
  let data: unknown = entry;
  if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
    const obj = entry as Record<string, unknown>;
    const unknownKeys = Object.keys(obj).filter((k) => k !== 'dims' && k !== 'dataType' && k !== 'data');
    if (unknownKeys.length > 0) throw new DataFormatError(`${where}: unknown key(s) ${unknownKeys.join(', ')}; expected dims, dataType, data`);
    if (!('data' in obj)) throw new DataFormatError(`${where}: missing "data"`);
    data = obj.data;
    if (obj.dims !== undefined) {
      if (!Array.isArray(obj.dims) || !obj.dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw new DataFormatError(`${where}: "dims" must be an array of non-negative integers`);
      }
      dims = obj.dims as number[];
    }
    if (obj.dataType !== undefined) {
      if (typeof obj.dataType !== 'string' || !isHostDataType(obj.dataType)) {
        throw new DataFormatError(`${where}: "dataType" must be one of float32, float64, int32, int64, uint8, bool`);
      }
      dataType = obj.dataType;
    }
  }
  const flat = flattenNested(data, where);
  if (dims !== undefined) {
    const n = elementCount(dims);
    if (n !== flat.values.length) {
      throw new DataShapeError(`${where}: "dims" ${formatShape(dims)} need ${n} values but "data" has ${flat.values.length}`);
    }
  } else {
    dims = flat.dims;
  }
  const t: HostTensor = { dataType, dims, data: jsonValuesToData(flat.values, dataType, where) };
  return fitToInput(t, input, source);
}

/** Parses the JSON input format described at the top of this file. */
export function parseJsonInput(text: string, model: InputModel, source = 'JSON input'): Record<string, HostTensor> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DataFormatError(`${source}: invalid JSON (${(err as Error).message})`, { cause: err });
  }
  if (Array.isArray(doc) || typeof doc === 'number') {
    const input = singleInput(model, source, 'bare JSON array');
    return { [input.name]: jsonTensor(doc, input, source) };
  }
  if (doc === null || typeof doc !== 'object') {
    throw new DataFormatError(`${source}: expected an object {"<input name>": {...}} or a nested number array`);
  }
  const obj = doc as Record<string, unknown>;
  const byName = new Map(model.inputs.map((i) => [i.name, i]));
  const unknown = Object.keys(obj).filter((k) => !byName.has(k));
  if (unknown.length > 0) {
    throw new DataSpecError(`${source}: no model input named ${unknown.map((u) => `'${u}'`).join(', ')}; the inputs are ${model.inputs.map((i) => `'${i.name}'`).join(', ')}`);
  }
  const missing = model.inputs.filter((i) => !(i.name in obj));
  if (missing.length > 0) throw new DataSpecError(`${source}: missing value for input(s) ${missing.map((i) => `'${i.name}'`).join(', ')}`);
  const out: Record<string, HostTensor> = {};
  for (const input of model.inputs) out[input.name] = jsonTensor(obj[input.name], input, source);
  return out;
}

/** The N, C, H, W an image must be turned into for `input`; symbolic H/W mean "keep the image's own size". */
export function imageInputLayout(input: ModelInput, source: string): { channels: number; height?: number; width?: number } {
  const s = input.shape;
  if (s.length !== 4) {
    throw new DataShapeError(`${source}: input '${input.name}' has shape ${formatShape(s)}; an image needs a 4-D [N, C, H, W] input`);
  }
  if (input.dataType !== 1) throw new DataShapeError(`${source}: input '${input.name}' is not float32; images are fed as float32`);
  const [n, c, h, w] = s as [number | string, number | string, number | string, number | string];
  if (isFixed(n) && n !== 1) throw new DataShapeError(`${source}: input '${input.name}' has a fixed batch of ${n}; one image fills a batch of 1`);
  if (isFixed(c) && c !== 1 && c !== 3) {
    const nhwc = isFixed(w) && (w === 3 || w === 1);
    throw new DataShapeError(`${source}: input '${input.name}' ${formatShape(s)} has ${c} channels; images fill 1 or 3${nhwc ? ' (it looks like NHWC; only NCHW is supported)' : ''}`);
  }
  if (isFixed(h) !== isFixed(w)) throw new DataShapeError(`${source}: input '${input.name}' ${formatShape(s)} fixes only one of H and W`);
  return { channels: isFixed(c) ? c : 3, ...(isFixed(h) && isFixed(w) ? { height: h, width: w } : {}) };
}

/**
 * Reads `path` into tensors for `model`'s inputs, choosing the format by extension (.npy, .json, .jpg, .jpeg).
 * `pre` only matters for images.
 */
export async function readInputFile(path: string, model: InputModel, pre: Preprocess = {}): Promise<Record<string, HostTensor>> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.npy' && ext !== '.json' && ext !== '.jpg' && ext !== '.jpeg') {
    throw new UnsupportedDataError(`${path}: unsupported input file type '${ext || '(none)'}'; use .npy, .json, .jpg or .jpeg`);
  }
  const bytes = await readFileOrThrow(path, 'input file');
  if (ext === '.npy') {
    const input = singleInput(model, path, '.npy file');
    return { [input.name]: fitToInput(parseNpy(bytes, path), input, path) };
  }
  if (ext === '.json') return parseJsonInput(new TextDecoder('utf-8').decode(bytes), model, path);
  return jpegFeeds(bytes, model, pre, path);
}

/**
 * A JPEG's bytes as the feeds of a single-input image model (what `lowrank run --input x.jpg` feeds): decoded and
 * preprocessed (image.ts) to its [1, C, H, W] input. `source` names the image in error messages.
 */
export function jpegFeeds(bytes: Uint8Array, model: InputModel, pre: Preprocess = {}, source = 'image'): Record<string, HostTensor> {
  const input = singleInput(model, source, 'image');
  const layout = imageInputLayout(input, source);
  const r = resolvePreprocess(pre);
  const img = decodeJpeg(bytes, source, r.limits);
  const target = { channels: layout.channels, height: layout.height ?? img.height, width: layout.width ?? img.width };
  // Symbolic H and W: feed the image at its own size, with no resize or crop.
  const data = preprocessImage(img, target, layout.height === undefined ? { ...r, resize: 'stretch' } : r);
  return { [input.name]: { dataType: 'float32', dims: [1, target.channels, target.height, target.width], data } };
}
