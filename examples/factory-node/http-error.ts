/** A request that ends with this status and one-line message (the JSON body's `error`). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers, e.g. Retry-After for 503. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
