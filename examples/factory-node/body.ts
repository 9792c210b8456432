/**
 * Reads a request body up to a byte limit. A Content-Length over the limit is refused before anything is read; a
 * chunked body is counted as it arrives and refused as soon as it passes the limit, so a large upload never sits
 * whole in memory.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

export function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit, `Content-Length ${declared}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (error: HttpError): void => {
      req.removeAllListeners('data');
      req.pause();
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) fail(tooLarge(limit, `${length} bytes so far`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks, length))));
    // The client went away mid-upload: there is nobody to answer, but the request must still settle.
    req.on('aborted', () => fail(new HttpError(400, 'the request body was cut off')));
    req.on('error', (e) => fail(new HttpError(400, `cannot read the request body: ${e.message}`)));
  });
}

function tooLarge(limit: number, got: string): HttpError {
  // Connection: close, so the rest of a large upload is not read only to be thrown away.
  return new HttpError(413, `the body is over the limit of ${limit} bytes (${got}); raise --max-body-bytes`, { Connection: 'close' });
}
