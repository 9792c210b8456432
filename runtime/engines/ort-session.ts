import type * as OrtCommon from 'onnxruntime-common';
import { EngineRunError } from '../errors.js';
import { type Feeds, type HostTensor, type TensorDataType } from '../tensor.js';
import type { EngineSession } from './engine.js';

/** The part of onnxruntime-node and onnxruntime-web we use: both expose the same onnxruntime-common API. */
export interface OrtModule {
  InferenceSession: typeof OrtCommon.InferenceSession;
  Tensor: typeof OrtCommon.Tensor;
}

/** onnxruntime-web also exposes its global settings (threads, WebGPU adapter and device). */
export interface OrtWebModule extends OrtModule {
  env: OrtCommon.Env;
}

/**
 * Runs one job at a time, in call order. onnxruntime-web's WebAssembly module is one instance per process or page,
 * and two of its sessions running at once corrupt each other: a base session and an adapter session (runtime/
 * adapters/) of the same model running concurrently failed with "Cannot read properties of null (reading '3')"
 * inside onnxruntime-web 1.30, on the first of 20 tries. Runs on one session at once were fine, but the module
 * computes one inference at a time anyway, so queueing every run costs nothing.
 */
export class RunQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** The queue every onnxruntime-web session (ort-wasm, ort-webgpu) runs through. */
export const ORT_WEB_RUNS = new RunQueue();

/** Wrap an onnxruntime InferenceSession (node or web: same API) as an EngineSession; `queue`: see RunQueue. */
export async function createOrtSession(
  ort: OrtModule,
  engineId: string,
  model: Uint8Array,
  options: OrtCommon.InferenceSession.SessionOptions,
  queue?: RunQueue,
): Promise<EngineSession> {
  let session: OrtCommon.InferenceSession;
  try {
    // Severity 3 = errors only: ORT's warnings (e.g. about IR 3 initializers) are noise to an app; failures still throw.
    session = await ort.InferenceSession.create(model, { logSeverityLevel: 3, ...options });
  } catch (e) {
    throw new EngineRunError(`${engineId} could not build the model: ${firstLine(e)}`, 'engine-build');
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
      const ortFeeds: Record<string, OrtCommon.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dataType, t.data as never, t.dims);
      let results: OrtCommon.InferenceSession.ReturnType;
      try {
        results = await (queue ? queue.run(() => session.run(ortFeeds)) : session.run(ortFeeds));
      } catch (e) {
        throw new EngineRunError(`${engineId} failed to run: ${firstLine(e)}`, 'engine-run');
      }
      const out: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(results)) {
        out[name] = { dataType: t.type as TensorDataType, dims: [...t.dims], data: t.data as HostTensor['data'] };
        t.dispose?.();
      }
      return out;
    },
    release: () => session.release(),
  };
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].trim();
}

