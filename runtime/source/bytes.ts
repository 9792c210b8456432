import { SourceError } from '../errors.js';
import type { ByteSource } from './source.js';

/** Model bytes already in memory. */
export function bytesSource(bytes: Uint8Array, name = 'model.lrm'): ByteSource {
  return {
    name,
    async read(offset, length) {
      if (offset + length > bytes.length) {
        throw new SourceError(`${name} is truncated: needed bytes up to ${offset + length}, have ${bytes.length}`, 'short-read');
      }
      return bytes.subarray(offset, offset + length);
    },
    async size() {
      return bytes.length;
    },
  };
}
