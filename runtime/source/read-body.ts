import { IncompleteDownloadError } from '../errors.js';

/**
 * Read a fetch Response body chunk by chunk, reporting progress, and insist on every byte the server
 * announced: a dropped connection (the stream errors) or a body shorter than Content-Length is an
 * IncompleteDownloadError, never a silently short buffer.
 */
export async function readBody(res: Response, url: string, expected: number | undefined, onBytes?: (received: number) => void): Promise<Uint8Array> {
  if (!res.body) {
    const whole = new Uint8Array(await res.arrayBuffer());
    onBytes?.(whole.length);
    return checked(whole, url, expected);
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      onBytes?.(received);
    }
  } catch (e) {
    throw new IncompleteDownloadError(url, received, expected, String((e as Error)?.message ?? e), joinBytes(chunks));
  }
  return checked(joinBytes(chunks), url, expected);
}

/** The parts back to back in one new buffer (body chunks, a header read and its rest, a resumed range). */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checked(body: Uint8Array, url: string, expected: number | undefined): Uint8Array {
  if (expected !== undefined && body.length < expected) throw new IncompleteDownloadError(url, body.length, expected, 'the body ended early');
  return body;
}

/** The Content-Length header as a number, when the server sent one. */
export function contentLength(res: Response): number | undefined {
  const v = res.headers.get('content-length');
  return v === null || !/^\d+$/.test(v) ? undefined : Number(v);
}
