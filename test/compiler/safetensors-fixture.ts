/** Writing safetensors files for tests, as PEFT's save_pretrained lays them out. */
import { encodeHalf } from '../../formats/float16.js';

export type Entry = { dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; values: Float32Array };

/** A safetensors file: u64 LE header length, JSON header, then the tensors' bytes back to back. */
export function safetensors(tensors: Record<string, Entry>, metadata = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.dtype === 'F32' ? new Uint8Array(Float32Array.from(t.values).buffer) : encodeHalf(t.values);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // safetensors pads the header with spaces to a multiple of 8.
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

