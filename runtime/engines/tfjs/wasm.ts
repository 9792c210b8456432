import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { EngineUnavailableError } from '../../errors.js';
import type { EngineSession } from '../engine.js';
import { firstLine } from '../ort-session.js';
import { createTfjsSession } from './session.js';
import { startOnce } from './start-once.js';

/**
 * Starts tfjs's WASM backend once per process. `wasmPaths` is the folder (or URL prefix) holding its .wasm files:
 * in Node the package folder, in a browser wherever the app serves them.
 */
export const startTfjsWasm = startOnce(async (wasmPaths: string): Promise<void> => {
  setWasmPaths(wasmPaths);
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch (e) {
    throw new EngineUnavailableError('tfjs-wasm', `tfjs's WASM backend did not start: ${firstLine(e)}`);
  }
  if (!ok) throw new EngineUnavailableError('tfjs-wasm', `tfjs's WASM backend did not start (are its .wasm files at ${wasmPaths}?)`);
});

export async function createTfjsWasmSession(model: Uint8Array, wasmPaths: string): Promise<EngineSession> {
  await startTfjsWasm(wasmPaths);
  return createTfjsSession('tfjs-wasm', 'wasm', model);
}
