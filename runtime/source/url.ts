import { SourceError } from '../errors.js';
import type { ByteSource } from './source.js';

/**
 * A model behind HTTP(S). Each read is one Range request; a server that ignores Range answers 200 with
 * the whole file, which we keep so later reads cost nothing.
 */
export function urlSource(url: string, fetchImpl: typeof fetch = globalThis.fetch): ByteSource {
  let whole: Uint8Array | undefined;
  let knownSize: number | undefined;
  const get = async (headers: Record<string, string>): Promise<Response> => {
    try {
      return await fetchImpl(url, { headers });
    } catch (e) {
      throw new SourceError(`cannot fetch ${url}: ${(e as Error).message}`, 'fetch');
    }
  };
  return {
    name: url,
    async read(offset, length) {
      if (!whole) {
        const res = await get({ Range: `bytes=${offset}-${offset + length - 1}` });
        if (res.status === 206) {
          const body = new Uint8Array(await res.arrayBuffer());
          const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
          if (total) knownSize = Number(total[1]);
          if (body.length !== length) {
            throw new SourceError(`${url} is truncated: asked for ${length} bytes at ${offset}, got ${body.length}`, 'short-read');
          }
          return body;
        }
        if (!res.ok) throw new SourceError(`cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`, 'http');
        whole = new Uint8Array(await res.arrayBuffer());
        knownSize = whole.length;
      }
      if (offset + length > whole.length) {
        throw new SourceError(`${url} is truncated: needed bytes up to ${offset + length}, got ${whole.length}`, 'short-read');
      }
      return whole.subarray(offset, offset + length);
    },
    async size() {
      return knownSize;
    },
  };
}
