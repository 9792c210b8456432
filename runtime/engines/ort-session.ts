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

/** Wrap an onnxruntime InferenceSession (node or web: same API) as an EngineSession. */
export async function createOrtSession(
  ort: OrtModule,
  engineId: string,
  model: Uint8Array,
  options: OrtCommon.InferenceSession.SessionOptions,
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
        results = await session.run(ortFeeds);
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

