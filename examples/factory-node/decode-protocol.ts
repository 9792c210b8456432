/** What the main thread and a decode worker say to each other, and which status a decode error answers with. */
import { DataError, DataTooLargeError } from '../../compiler/data/errors.js';
import type { Feeds } from '../../runtime/node.js';

export interface DecodeRequest {
  id: number;
  jpeg: Uint8Array;
}

/** The request's fault (an undecodable or too large image): its status and one-line message. */
export interface DecodeProblem {
  status: number;
  message: string;
}

export interface DecodeReply {
  id: number;
  feeds?: Feeds;
  problem?: DecodeProblem;
}

/** A body that is no JPEG or a damaged one: 400; an image over the decode limits: 413; anything else is a bug: 500. */
export function decodeProblem(e: unknown): DecodeProblem {
  const message = ((e as Error)?.message ?? String(e)).split('\n')[0]!;
  if (e instanceof DataTooLargeError) return { status: 413, message };
  if (e instanceof DataError) return { status: 400, message };
  return { status: 500, message: `decoding failed: ${message}` };
}
