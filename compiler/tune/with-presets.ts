import type { ModelHeader, Preset } from '../../formats/model.js';
import { readHeader } from '../../formats/read.js';
import { frameHeader } from '../../formats/write.js';

/** The file's presets with `added` in: a preset of the same name is replaced, the others are kept in order. */
export function mergePresets(existing: readonly Preset[], added: readonly Preset[]): Preset[] {
  const names = new Set(added.map((p) => p.name));
  return [...existing.filter((p) => !names.has(p.name)), ...added];
}

/**
 * The same file with a new header holding `presets`: the payload (dense section, tiers, refits) is copied byte
 * for byte, so every section's SHA-256 still holds. The result is read back through every header check.
 */
export async function withPresets(lrm: Uint8Array, header: ModelHeader, presets: Preset[], fileName: string): Promise<Uint8Array> {
  const payload = lrm.subarray(lrm.length - header.payloadLength);
  const framed = await frameHeader({ ...header, presets });
  const out = new Uint8Array(framed.length + payload.length);
  out.set(framed);
  out.set(payload, framed.length);
  await readHeader(out, { fileName, totalLength: out.length });
  return out;
}
