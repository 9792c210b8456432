/**
 * What run() checks before an engine sees its inputs: an engine given a wrong length, type or shape fails with
 * its own untyped message (or, for NaN, silently returns NaN), so every mistake is caught here first and named
 * the way the app wrote it: input name, expected vs got.
 */
import { DataType, type ValueInfo } from '../formats/model.js';
import { RunInputError } from './errors.js';
import type { Feeds, TensorDataType } from './tensor.js';

/** What to do with NaN or ±Infinity in a floating-point input: refuse it (default) or pass it on. */
export type NonFinitePolicy = 'reject' | 'allow';

/** Our dataType and the typed array that carries it, by ONNX element type. */
const TYPES: ReadonlyMap<number, { name: TensorDataType; array: string }> = new Map([
  [DataType.FLOAT, { name: 'float32', array: 'Float32Array' }],
  [DataType.DOUBLE, { name: 'float64', array: 'Float64Array' }],
  [DataType.INT64, { name: 'int64', array: 'BigInt64Array' }],
  [DataType.INT32, { name: 'int32', array: 'Int32Array' }],
  [DataType.UINT8, { name: 'uint8', array: 'Uint8Array' }],
  [DataType.INT8, { name: 'int8', array: 'Int8Array' }],
  [DataType.BOOL, { name: 'bool', array: 'Uint8Array' }],
]);

/**
 * Throws RunInputError for the first input that does not fit `inputs`; returns the feeds, typed. Every run pays for
 * this, so a good feed costs one pass over the inputs and no string is built unless there is something to report
 * (formatting the names and shapes up front took 2 µs of a 20 µs MNIST-MLP run).
 */
export function checkFeeds(feeds: unknown, inputs: readonly ValueInfo[], nonFinite: NonFinitePolicy = 'reject'): Feeds {
  if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) {
    throw new RunInputError(`run() takes an object of named tensors, e.g. { ${inputs[0]?.name ?? 'input'}: { dataType, dims, data } }; got ${feeds === null ? 'null' : Array.isArray(feeds) ? 'an array' : typeof feeds}`);
  }
  const given = feeds as Record<string, unknown>;
  // As many names as inputs and every input there: then no name is unknown either (input names are unique).
  if (Object.keys(given).length !== inputs.length || !inputs.every((i) => i.name in given)) throw namesError(given, inputs);
  for (const input of inputs) checkTensor(given[input.name], input, nonFinite);
  return feeds as Feeds;
}

function namesError(given: Record<string, unknown>, inputs: readonly ValueInfo[]): RunInputError {
  const names = inputs.map((i) => i.name).join(', ');
  const unknown = Object.keys(given).filter((k) => !inputs.some((i) => i.name === k));
  if (unknown.length > 0) return new RunInputError(`unknown model input(s): ${unknown.join(', ')} (the model takes ${names})`);
  const missing = inputs.filter((i) => !(i.name in given)).map((i) => i.name);
  return new RunInputError(`missing model input(s): ${missing.join(', ')} (the model takes ${names})`);
}

function checkTensor(value: unknown, input: ValueInfo, nonFinite: NonFinitePolicy): void {
  const where = () => `input "${input.name}"`;
  const type = TYPES.get(input.dataType);
  if (!value || typeof value !== 'object') throw new RunInputError(`${where()} must be { dataType, dims, data }, got ${value === null ? 'null' : typeof value}`);
  const t = value as { dataType?: unknown; dims?: unknown; data?: unknown };
  if (type && t.dataType !== type.name) throw new RunInputError(`${where()} is ${type.name}, got dataType ${JSON.stringify(t.dataType)}`);
  const arrayName = (t.data as object | null | undefined)?.constructor?.name ?? typeof t.data;
  if (type && arrayName !== type.array) throw new RunInputError(`${where()} (${type.name}) needs its data in a ${type.array}, got ${arrayName}`);
  if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RunInputError(`${where()} dims must be whole numbers ≥ 0, got ${JSON.stringify(t.dims)}`);
  const dims = t.dims as number[];
  // A model input declared without a shape says nothing to check against.
  if (input.shape.length > 0) checkShape(dims, input, where);
  checkLength(t.data as ArrayLike<number>, dims, where, nonFinite);
}

function checkShape(dims: readonly number[], input: ValueInfo, where: () => string): void {
  const expected = () => `[${input.shape.join(', ')}]`;
  if (dims.length !== input.shape.length) throw new RunInputError(`${where()} has shape ${expected()}, got ${dims.length} dims [${dims.join(', ')}]`);
  for (let i = 0; i < dims.length; i++) {
    const want = input.shape[i];
    if (typeof want === 'number' && want >= 0 && dims[i] !== want) throw new RunInputError(`${where()} has shape ${expected()}, got [${dims.join(', ')}] (dim ${i} must be ${want})`);
  }
}

/** The data holds exactly the dims' elements, finite where the policy asks for it. */
function checkLength(data: ArrayLike<number>, dims: number[], where: () => string, nonFinite: NonFinitePolicy): void {
  let elements = 1;
  for (const d of dims) elements *= d;
  if (data.length !== elements) throw new RunInputError(`${where()} of dims [${dims.join(', ')}] needs ${elements} values, got ${data.length}`);
  if (nonFinite === 'reject' && (data instanceof Float32Array || data instanceof Float64Array)) {
    const at = firstNonFinite(data);
    if (at >= 0) throw new RunInputError(`${where()} has ${data[at]} at index ${at}; inputs must be finite (load option nonFinite: 'allow' passes them on)`);
  }
}

/**
 * Index of the first NaN or ±Infinity, or −1. Every run pays this, so it is plain loops: x·0 is 0 for finite x and
 * NaN otherwise, so a sum of them says whether there is any, and only then is the index looked for. MobileNet's
 * 150,528 input values took 2.4 ms with findIndex and a callback (a fifth of a run on 2 busy cores; the bench timed
 * every tier 1.1–1.5× the original for it). One running sum took 0.36 ms for YOLO-FastestV2's 371,712 values, 15%
 * of its 2.5 ms run; eight independent sums let the CPU overlap the additions instead of waiting on each: 0.17 ms.
 */
function firstNonFinite(data: Float32Array | Float64Array): number {
  let p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0; // not destructured: that ran 3× slower
  const whole = data.length - (data.length % 8);
  let i = 0;
  for (; i < whole; i += 8) {
    p0 += data[i] * 0;
    p1 += data[i + 1] * 0;
    p2 += data[i + 2] * 0;
    p3 += data[i + 3] * 0;
    p4 += data[i + 4] * 0;
    p5 += data[i + 5] * 0;
    p6 += data[i + 6] * 0;
    p7 += data[i + 7] * 0;
  }
  for (; i < data.length; i++) p0 += data[i] * 0;
  if (p0 + p1 + p2 + p3 + p4 + p5 + p6 + p7 === 0) return -1;
  for (let j = 0; j < data.length; j++) if (!Number.isFinite(data[j])) return j;
  return -1;
}
