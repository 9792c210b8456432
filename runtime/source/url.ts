import { IncompleteDownloadError, LoadAbortedError, SourceError, SourceTimeoutError, throwIfAborted } from '../errors.js';
import { contentLength, joinBytes, readBody } from './read-body.js';
import type { ByteSource, SourceReadOptions } from './source.js';

/**
 * A model behind HTTP(S). Each read is one Range request; a server that ignores Range answers 200 with
 * the whole file, which we keep so later reads cost nothing (until discard(), after a checksum failure).
 */
export function urlSource(url: string, fetchImpl: typeof fetch = globalThis.fetch): ByteSource {
  return new UrlSource(url, fetchImpl);
}

class UrlSource implements ByteSource {
  /** The whole file, when a server answered a Range request with all of it. */
  private whole: Uint8Array | undefined;
  private knownSize: number | undefined;
  private received = 0;

  constructor(
    readonly name: string,
    private readonly fetchImpl: typeof fetch,
  ) {}

  async read(offset: number, length: number, options: SourceReadOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, this.name);
    if (length === 0) return new Uint8Array(0);
    if (this.whole) return this.slice(this.whole, offset, length, options);
    // A body cut short is resumed after the bytes that did arrive (a Range request for the rest); the sections
    // they belong to are checked against their SHA-256 as a whole afterwards, as always.
    let got: Uint8Array = new Uint8Array(0);
    for (let attempt = 0; ; attempt++) {
      try {
        const rest = await this.attemptRead(offset + got.length, length - got.length, { ...options, onBytes: (n) => options.onBytes?.(got.length + n) });
        return got.length === 0 ? rest : joinBytes([got, rest]);
      } catch (e) {
        if (attempt >= (options.retries ?? DEFAULT_RETRIES) || !retryable(e)) throw e;
        if (e instanceof IncompleteDownloadError && e.partial && !options.atMost) got = joinBytes([got, e.partial.subarray(0, length - got.length)]);
        await backoff(attempt, options.signal, this.name);
      }
    }
  }

  async size(): Promise<number | undefined> {
    return this.knownSize;
  }

  get transferred(): number {
    return this.received;
  }

  discard(): void {
    this.whole = undefined;
  }

  /** One request, cancelled by the caller's signal or a stall; counts every byte that arrives. */
  private async attemptRead(offset: number, length: number, options: SourceReadOptions): Promise<Uint8Array> {
    const watch = new RequestWatch(options.signal, options.timeoutMs);
    let counted = 0;
    const onBytes = (n: number): void => {
      this.received += n - counted;
      counted = n;
      watch.arrived(n);
      options.onBytes?.(n);
    };
    try {
      return await this.fetchRange(offset, length, { ...options, onBytes }, watch.signal);
    } catch (e) {
      throw watch.reason(this.name) ?? e;
    } finally {
      watch.close();
    }
  }

  private async fetchRange(offset: number, length: number, options: SourceReadOptions, signal: AbortSignal): Promise<Uint8Array> {
    const url = this.name;
    const res = await this.get({ Range: `bytes=${offset}-${offset + length - 1}` }, signal);
    if (res.status === 206) return this.partialBody(res, offset, length, options);
    if (res.status === 416) {
      // The range starts past the end of the file.
      const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (total) this.knownSize = Number(total[1]);
      return this.slice(new Uint8Array(0), 0, length, options);
    }
    if (!res.ok) throw new SourceError(`cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`, res.status >= 500 ? 'http-server' : 'http');
    // 200: the server ignores Range and sends everything. Keep it; every later read is served from it. A cut 200 body
    // starts at byte 0, not at `offset`: nothing of it can be resumed.
    const body = await readBody(res, url, contentLength(res), options.onBytes).catch((e: unknown) => {
      throw e instanceof IncompleteDownloadError ? new IncompleteDownloadError(e.url, e.received, e.expected, 'the connection dropped') : e;
    });
    this.whole = body;
    this.knownSize = body.length;
    return this.slice(body, offset, length, options);
  }

  /** A 206 answer: the range asked for, as its Content-Range says (and the file's size, when it says that too). */
  private async partialBody(res: Response, offset: number, length: number, options: SourceReadOptions): Promise<Uint8Array> {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (range && range[3] !== '*') this.knownSize = Number(range[3]);
    if (range && Number(range[1]) !== offset) {
      throw new SourceError(`${this.name}: asked for bytes from ${offset}, the server sent bytes from ${range[1]} (a caching proxy may be rewriting ranges)`, 'bad-range');
    }
    const announced = range ? Number(range[2]) - Number(range[1]) + 1 : contentLength(res);
    const body = await readBody(res, this.name, announced, options.onBytes);
    return this.slice(body, 0, length, options);
  }

  private async get(headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    // Called unbound: a browser's fetch called as a method of another object throws "Illegal invocation".
    const fetchImpl = this.fetchImpl;
    try {
      return await fetchImpl(this.name, { headers, signal });
    } catch (e) {
      throw new SourceError(`cannot fetch ${this.name}: ${(e as Error).message}`, 'fetch');
    }
  }

  private slice(bytes: Uint8Array, offset: number, length: number, options: SourceReadOptions): Uint8Array {
    if (offset + length > bytes.length && !options.atMost) {
      throw new SourceError(`${this.name} is truncated: needed bytes up to ${offset + length}, the server has ${bytes.length}`, 'short-read');
    }
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
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
