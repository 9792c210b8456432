import * as ort from 'onnxruntime-node';
import { ModelNotRunnableError } from './errors.js';

/**
 * Ask onnxruntime to load the source model before we spend time on it: a model it cannot run
 * (an unsupported opset, a broken graph) would only produce an .lrm that cannot run either.
 */
export async function assertOnnxRuntimeLoads(bytes: Uint8Array, fileName: string): Promise<void> {
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0].replace(/^\[.*?\]\s*/, '').trim();
    throw new ModelNotRunnableError(`${fileName} cannot be loaded by onnxruntime (${reason}); re-export it with a newer opset (≥ 7)`, 'ort-load');
  } finally {
    await session?.release();
  }
}
