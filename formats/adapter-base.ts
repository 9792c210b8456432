/**
 * Which base model an adapter belongs to. An adapter names its base by the base's header hash (AdapterBase): the
 * header holds every section's SHA-256, so the hash names every weight the adapter's ΔW was trained against.
 */
import { AdapterBaseMismatchError } from './adapter-errors.js';
import type { AdapterBase, AdapterModel } from './adapter-model.js';
import { HEADER_HASH_BYTES } from './framing.js';
import { headerLength } from './read.js';
import { toHex } from './sha256.js';

/**
 * The AdapterBase of a .lrm file: its stored header hash in hex (verified when the model is read, not here) and its
 * name. `lrm` is the file, or any prefix of it that holds its header.
 */
export function adapterBaseOf(lrm: Uint8Array, fileName: string): AdapterBase {
  const end = headerLength(lrm, { fileName });
  if (lrm.length < end) throw new RangeError(`${fileName}: the header needs ${end} bytes, got ${lrm.length}`);
  return { headerSha256: toHex(lrm.subarray(end - HEADER_HASH_BYTES, end)), fileName };
}

/**
 * Refuses an adapter trained for another base model: `baseHeaderSha256` is the loaded model's header hash in hex
 * (what AdapterBase.headerSha256 holds; adapterBaseOf gives it), `baseFileName` its name for the message.
 */
export function checkAdapterBase(model: AdapterModel, baseHeaderSha256: string, baseFileName: string, options: { adapterName?: string } = {}): void {
  if (model.base.headerSha256.toLowerCase() === baseHeaderSha256.toLowerCase()) return;
  throw new AdapterBaseMismatchError(options.adapterName ?? 'the adapter', model.base, { headerSha256: baseHeaderSha256.toLowerCase(), fileName: baseFileName });
}
