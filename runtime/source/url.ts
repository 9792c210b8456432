import { IncompleteDownloadError, LoadAbortedError, SourceError, SourceTimeoutError, throwIfAborted } from '../errors.js';
import { contentLength, joinBytes, readBody } from './read-body.js';
import type { ByteSource, SourceReadOptions } from './source.js';

/**
 * A model behind HTTP(S). Each read is one Range request; a server that ignores Range answers 200 with
 * the whole file, which we keep so later reads cost nothing (until discard(), after a checksum failure).
 */
export function urlSource(url: string, fetchImpl: typeof fetch = globalThis.fetch): ByteSource {
  let whole: Uint8Array | undefined;
  let knownSize: number | undefined;
  let transferred = 0;
  const get = async (headers: Record<string, string>, signal: AbortSignal): Promise<Response> => {
    try {
      return await fetchImpl(url, { headers, signal });
    } catch (e) {
      throw new SourceError(`cannot fetch ${url}: ${(e as Error).message}`, 'fetch');
    }
  };
  const slice = (bytes: Uint8Array, offset: number, length: number, options: SourceReadOptions): Uint8Array => {
    if (offset + length > bytes.length && !options.atMost) {
      throw new SourceError(`${url} is truncated: needed bytes up to ${offset + length}, the server has ${bytes.length}`, 'short-read');
    }
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  };
  return {
    name: url,
    async read(offset, length, options = {}) {
      throwIfAborted(options.signal, url);
      if (length === 0) return new Uint8Array(0);
      if (whole) return slice(whole, offset, length, options);
      // A body cut short is resumed after the bytes that did arrive (a Range request for the rest); the sections
      // they belong to are checked against their SHA-256 as a whole afterwards, as always.
      let got: Uint8Array = new Uint8Array(0);
      for (let attempt = 0; ; attempt++) {
        try {
          const rest = await attemptRead(offset + got.length, length - got.length, { ...options, onBytes: (n) => options.onBytes?.(got.length + n) });
          return got.length === 0 ? rest : joinBytes([got, rest]);
        } catch (e) {
          if (attempt >= (options.retries ?? DEFAULT_RETRIES) || !retryable(e)) throw e;
          if (e instanceof IncompleteDownloadError && e.partial && !options.atMost) got = joinBytes([got, e.partial.subarray(0, length - got.length)]);
          await backoff(attempt, options.signal, url);
        }
      }
    },
    async size() {
      return knownSize;
    },
    get transferred() {
      return transferred;
    },
    discard() {
      whole = undefined;
    },
  };

  /** One request, cancelled by the caller's signal or a stall; counts every byte that arrives. */
  async function attemptRead(offset: number, length: number, options: SourceReadOptions): Promise<Uint8Array> {
    const watch = new RequestWatch(options.signal, options.timeoutMs);
    let counted = 0;
    const onBytes = (n: number): void => {
      transferred += n - counted;
      counted = n;
      watch.arrived(n);
      options.onBytes?.(n);
    };
    try {
      return await fetchRange(offset, length, { ...options, onBytes }, watch.signal);
    } catch (e) {
      throw watch.reason(url) ?? e;
    } finally {
      watch.close();
    }
  }

  async function fetchRange(offset: number, length: number, options: SourceReadOptions, signal: AbortSignal): Promise<Uint8Array> {
    const res = await get({ Range: `bytes=${offset}-${offset + length - 1}` }, signal);
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (range && range[3] !== '*') knownSize = Number(range[3]);
      if (range && Number(range[1]) !== offset) {
        throw new SourceError(`${url}: asked for bytes from ${offset}, the server sent bytes from ${range[1]} (a caching proxy may be rewriting ranges)`, 'bad-range');
      }
      const announced = range ? Number(range[2]) - Number(range[1]) + 1 : contentLength(res);
      const body = await readBody(res, url, announced, options.onBytes);
      return slice(body, 0, length, options);
    }
    if (res.status === 416) {
      // The range starts past the end of the file.
      const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (total) knownSize = Number(total[1]);
      return slice(new Uint8Array(0), 0, length, options);
    }
    if (!res.ok) throw new SourceError(`cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`, res.status >= 500 ? 'http-server' : 'http');
    // 200: the server ignores Range and sends everything. Keep it; every later read is served from it. A cut 200 body
    // starts at byte 0, not at `offset`: nothing of it can be resumed.
    const body = await readBody(res, url, contentLength(res), options.onBytes).catch((e: unknown) => {
      throw e instanceof IncompleteDownloadError ? new IncompleteDownloadError(e.url, e.received, e.expected, 'the connection dropped') : e;
    });
    whole = body;
    knownSize = body.length;
    return slice(body, offset, length, options);
  }
}

const DEFAULT_RETRIES = 2;
const FIRST_BACKOFF_MS = 250;

/** A failure another try may not have: a server error, a refused or reset connection, a body cut short. */
function retryable(e: unknown): boolean {
  return e instanceof IncompleteDownloadError || (e instanceof SourceError && (e.code === 'http-server' || e.code === 'fetch'));
}

/** Waits 0.25 s × 4^attempt, or until the caller aborts (LoadAbortedError). */
function backoff(attempt: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new LoadAbortedError(url));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, FIRST_BACKOFF_MS * 4 ** attempt);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One request's cancellation: the caller's AbortSignal, and a stall timer (timeoutMs without a byte) that
 * restarts whenever bytes arrive. Either aborts the fetch and its body at once; reason() says which, as our
 * typed error, so a cancelled or stalled read never surfaces as fetch's own "This operation was aborted".
 */
class RequestWatch {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private received = 0;
  private stalled = false;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly caller: AbortSignal | undefined,
    private readonly timeoutMs: number | undefined,
  ) {
    caller?.addEventListener('abort', this.onAbort, { once: true });
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  arrived(received: number): void {
    this.received = received;
    this.restart();
  }

  reason(url: string): Error | undefined {
    if (this.caller?.aborted) return new LoadAbortedError(url);
    if (this.stalled) return new SourceTimeoutError(url, this.timeoutMs!, this.received);
    return undefined;
  }

  close(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onAbort);
  }

  private restart(): void {
    if (this.timeoutMs === undefined) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort();
    }, this.timeoutMs);
  }
}
