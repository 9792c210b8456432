/**
 * `tensors:<dir>`: ready-made input tensors for models whose inputs are not images (audio, text, several or
 * sparse inputs). One directory entry per sample, in code-unit order of the names:
 *  - `<sample>.npy`: one array, bound to the model's single input;
 *  - `<sample>.json`: named tensors in the format of tensor-file.ts (or a bare array for a single-input model);
 *  - `<sample>/`: a folder holding one `<input name>.npy` per model input (what np.save gives for several inputs).
 * Hidden entries and other files (README, …) are ignored.
 *
 * Samples are batched by concatenating along dim 0, which is only meaningful when every model input has a
 * symbolic dim 0 with one name (a true batch dimension); otherwise each sample is a batch of its own.
 */
import { extname, join } from 'node:path';
import { DataEmptyError, DataShapeError, DataSpecError } from './errors.js';
import { listDirectory, readFileOrThrow } from './files.js';
import { parseNpy } from './npy.js';
import { fitToInput, parseJsonInput, type ModelInput } from './tensor-file.js';
import { allocData, type HostTensor } from './tensor.js';

type Feeds = Record<string, HostTensor>;

const isHidden = (name: string): boolean => name.startsWith('.');

/** The sample entries of a tensors directory (full paths, sorted); folders end without a slash. */
export async function listTensorSamples(dir: string): Promise<string[]> {
  const entries = await listDirectory(dir, 'tensors directory');
  const samples = entries
    .filter((e) => !isHidden(e.name) && (e.isDirectory || (e.isFile && /\.(npy|json)$/i.test(e.name))))
    .map((e) => join(dir, e.name));
  if (samples.length === 0) throw new DataEmptyError(`no .npy or .json files (or sample folders) in ${dir}`);
  return samples;
}

/** Reads one sample entry (file or folder, see above) into tensors for every model input. */
export async function readTensorSample(path: string, inputs: ReadonlyArray<ModelInput>): Promise<Feeds> {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    const bytes = await readFileOrThrow(path, 'tensor file');
    return parseJsonInput(new TextDecoder('utf-8').decode(bytes), { inputs }, path);
  }
  if (ext === '.npy') {
    if (inputs.length !== 1) {
      throw new DataSpecError(
        `${path}: a .npy sample feeds a single-input model, this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}); use a .json file or a folder with one <input>.npy per input`,
      );
    }
    return { [inputs[0]!.name]: fitToInput(parseNpy(await readFileOrThrow(path, 'tensor file'), path), inputs[0]!, path) };
  }
  // A sample folder: exactly one <input>.npy per model input.
  const files = (await listDirectory(path, 'sample folder')).filter((e) => e.isFile && !isHidden(e.name)).map((e) => e.name);
  const extra = files.filter((f) => !inputs.some((i) => f === `${i.name}.npy`));
  if (extra.length > 0) {
    throw new DataSpecError(`${path}: ${extra.join(', ')} name no model input; expected ${inputs.map((i) => `${i.name}.npy`).join(', ')}`);
  }
  const feeds: Feeds = {};
  for (const input of inputs) {
    const file = join(path, `${input.name}.npy`);
    if (!files.includes(`${input.name}.npy`)) throw new DataSpecError(`${path}: missing ${input.name}.npy for model input '${input.name}'`);
    feeds[input.name] = fitToInput(parseNpy(await readFileOrThrow(file, 'tensor file'), file), input, file);
  }
  return feeds;
}

/** Whether samples can be stacked along dim 0: every input has a symbolic dim 0, the same one. */
export function canConcatenate(inputs: ReadonlyArray<ModelInput>): boolean {
  const first = inputs.map((i) => i.shape[0]);
  const symbolic = (d: number | string | undefined) => d !== undefined && (typeof d === 'string' || d < 0);
  return inputs.length > 0 && first.every(symbolic) && new Set(first).size === 1;
}

/**
 * Reads the samples in order and yields feeds of up to `batchSize` samples (1 when the inputs cannot be
 * concatenated). A batch is cut early where a sample's shape differs from the previous one's (e.g. a longer
 * sequence), so every batch is a valid model input.
 */
export async function* tensorBatches(
  paths: readonly string[],
  inputs: ReadonlyArray<ModelInput>,
  batchSize: number,
): AsyncGenerator<{ feeds: Feeds; start: number; count: number }> {
  const size = canConcatenate(inputs) ? batchSize : 1;
  let pending: Feeds[] = [];
  let start = 0;
  const take = () => {
    const batch = { feeds: concatenate(pending, inputs), start, count: pending.length };
    start += pending.length;
    pending = [];
    return batch;
  };
  for (const path of paths) {
    const sample = await readTensorSample(path, inputs);
    if (pending.length > 0 && !sameTrailingDims(pending[0]!, sample, inputs)) yield take();
    pending.push(sample);
    if (pending.length === size) yield take();
  }
  if (pending.length > 0) yield take();
}

function sameTrailingDims(a: Feeds, b: Feeds, inputs: ReadonlyArray<ModelInput>): boolean {
  return inputs.every((i) => {
    const [x, y] = [a[i.name]!.dims, b[i.name]!.dims];
    return x.length === y.length && x.every((d, k) => k === 0 || d === y[k]);
  });
}

/** Stacks samples along dim 0 (one sample is passed through as it is). */
function concatenate(samples: Feeds[], inputs: ReadonlyArray<ModelInput>): Feeds {
  if (samples.length === 1) return samples[0]!;
  const out: Feeds = {};
  for (const input of inputs) {
    const parts = samples.map((s) => s[input.name]!);
    const first = parts[0]!;
    if (first.dims.length === 0) throw new DataShapeError(`input '${input.name}' is a scalar and cannot be batched`);
    const data = allocData(first.dataType, parts.reduce((n, p) => n + p.data.length, 0));
    let offset = 0;
    for (const p of parts) {
      // fitToInput gave every part the input's type, so the arrays are of one class.
      (data as Float32Array).set(p.data as Float32Array, offset);
      offset += p.data.length;
    }
    out[input.name] = { dataType: first.dataType, dims: [parts.reduce((n, p) => n + p.dims[0]!, 0), ...first.dims.slice(1)], data };
  }
  return out;
}
