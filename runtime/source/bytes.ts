import { SourceError, throwIfAborted } from '../errors.js';
import type { ByteSource } from './source.js';

/** Model bytes already in memory. */
export function bytesSource(bytes: Uint8Array, name = 'model.lrm'): ByteSource {
  return {
    name,
    async read(offset, length, options = {}) {
      throwIfAborted(options.signal, name);
      if (offset + length > bytes.length && !options.atMost) {
        throw new SourceError(`${name} is truncated: needed bytes up to ${offset + length}, have ${bytes.length}`, 'short-read');
      }
      const out = bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
      options.onBytes?.(out.length);
      return out;
    },
    async size() {
      return bytes.length;
    },
  };
}
