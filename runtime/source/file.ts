import { open, stat } from 'node:fs/promises';
import { SourceError, throwIfAborted } from '../errors.js';
import type { ByteSource } from './source.js';

/** A file on disk (Node only), read by range so a small preset never reads the big tiers. */
export function fileSource(path: string): ByteSource {
  return {
    name: path,
    async read(offset, length, options = {}) {
      throwIfAborted(options.signal, path);
      let handle;
      try {
        handle = await open(path, 'r');
      } catch (e) {
        throw new SourceError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'open');
      }
      try {
        const out = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(out, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        options.onBytes?.(got);
        if (options.atMost) return out.subarray(0, got);
        if (got < length) {
          throw new SourceError(`${path} is truncated: needed bytes up to ${offset + length}, file ends at ${offset + got}`, 'short-read');
        }
        return out;
      } finally {
        await handle.close();
      }
    },
    async size() {
      try {
        return (await stat(path)).size;
      } catch (e) {
        throw new SourceError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'open');
      }
    },
  };
}
