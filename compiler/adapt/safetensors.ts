import { decodeHalf } from '../../formats/float16.js';
import { CompileError } from '../errors.js';

/**
 * A safetensors file (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`, then the raw little-endian
 * tensor bytes, offsets relative to the end of the header. Read by hand: the format is this paragraph, the npm
 * packages for it pull in far more than the 40 lines below, and the product must not depend on Python.
 * Only F32 and F16 tensors are read (what PEFT adapters hold); others are refused with their dtype named.
 */
export interface SafeTensor {
  dtype: 'F32' | 'F16';
  shape: number[];
  /** The values as float32 (F16 widened). */
  data: Float32Array;
}

export function readSafetensors(bytes: Uint8Array, fileName = 'adapter_model.safetensors'): Map<string, SafeTensor> {
  const bad = (why: string) => new CompileError(`${fileName} is not a readable safetensors file: ${why}; re-save it with safetensors (save_pretrained) or re-download it`, 'safetensors');
  if (bytes.length < 8) throw bad(`it has ${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(bytes.length - 8)) throw bad(`its header length ${length} runs past the end of the file (${bytes.length} bytes)`);
  const start = 8 + Number(length);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, start))) as Record<string, unknown>;
  } catch (e) {
    throw bad(`its header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('its header is not a JSON object');
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor "${name}" has no valid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || offsets[0] > offsets[1]) throw bad(`tensor "${name}" has no valid data_offsets`);
    if (e.dtype !== 'F32' && e.dtype !== 'F16') {
      throw new CompileError(`${fileName}: tensor "${name}" is ${String(e.dtype)}; only F32 and F16 adapters are read (convert it with torch: tensor.float())`, 'safetensors');
    }
    const size = e.dtype === 'F32' ? 4 : 2;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const [begin, end] = offsets as [number, number];
    if (end - begin !== count * size) throw bad(`tensor "${name}" [${shape.join(', ')}] ${e.dtype} needs ${count * size} bytes, its offsets give ${end - begin}`);
    if (start + end > bytes.length) throw bad(`tensor "${name}" ends past the end of the file`);
    const raw = bytes.slice(start + begin, start + end); // a copy: aligned, and independent of the file's buffer
    const data = e.dtype === 'F32' ? new Float32Array(raw.buffer, 0, count) : decodeHalf(raw);
    tensors.set(name, { dtype: e.dtype, shape: shape as number[], data });
  }
  return tensors;
}
