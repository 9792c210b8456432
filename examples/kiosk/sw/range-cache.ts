/**
 * Range responses in the Cache API, which refuses to store a 206: each is kept as a 200 under its own key
 * (`<url>?kiosk-range=<start>-<end>`: the Cache API ignores fragments, so the range goes in the query) with its
 * Content-Range, and turned back into the same 206 when served.
 */

export interface ByteRange {
  start: number;
  /** Inclusive, as in the header. */
  end: number;
}

/** "bytes=0-65535" → {0, 65535}; open-ended, suffix and multi-ranges are not ours to keep (undefined). */
export function parseRange(header: string | null): ByteRange | undefined {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header ?? '');
  return match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
}

export function rangeKey(url: string, range: ByteRange): string {
  const key = new URL(url);
  key.hash = '';
  key.searchParams.set('kiosk-range', `${range.start}-${range.end}`);
  return key.href;
}

export async function storeRange(cache: Cache, url: string, range: ByteRange, response: Response): Promise<void> {
  const body = await response.arrayBuffer();
  const headers = { 'Content-Type': response.headers.get('Content-Type') ?? 'application/octet-stream', 'Content-Range': response.headers.get('Content-Range') ?? '' };
  await cache.put(rangeKey(url, range), new Response(body, { status: 200, headers }));
}

export async function matchRange(cache: Cache, url: string, range: ByteRange): Promise<Response | undefined> {
  const stored = await cache.match(rangeKey(url, range));
  if (!stored) return undefined;
  const body = await stored.arrayBuffer();
  const headers = { 'Content-Type': stored.headers.get('Content-Type') ?? 'application/octet-stream', 'Content-Range': stored.headers.get('Content-Range') ?? '', 'Content-Length': String(body.byteLength) };
  return new Response(body, { status: 206, headers });
}
