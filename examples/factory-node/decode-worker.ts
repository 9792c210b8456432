/**
 * A worker thread of the decode pool (decode-pool.ts): JPEG bytes in, the model's feeds out. Decoding and resizing a
 * photo is ~100 ms of JavaScript; in a worker it neither blocks the event loop (accepting, /healthz, other requests'
 * I/O) nor waits for another request's decode.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Preprocess } from '../../compiler/data/image.js';
import { jpegFeeds, type ModelInput } from '../../compiler/data/tensor-file.js';
import { decodeProblem, type DecodeReply, type DecodeRequest } from './decode-protocol.js';

const { inputs, preprocess } = workerData as { inputs: ModelInput[]; preprocess: Preprocess };

parentPort!.on('message', ({ id, jpeg }: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    reply = { id, feeds: jpegFeeds(jpeg, { inputs }, preprocess, 'the request body') };
  } catch (e) {
    reply = { id, problem: decodeProblem(e) };
  }
  // The tensors' buffers move to the main thread rather than being copied.
  const buffers = reply.feeds ? Object.values(reply.feeds).map((t) => t.data.buffer as ArrayBuffer) : [];
  parentPort!.postMessage(reply, buffers);
});
