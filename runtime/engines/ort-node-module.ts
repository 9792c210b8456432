import { EngineUnavailableError } from '../errors.js';
import type { EngineId } from './engine.js';
import { firstLine, type OrtModule } from './ort-session.js';

/** onnxruntime-node, imported lazily so an engine costs nothing until it is used. */
export async function importOrtNode(engine: EngineId): Promise<OrtModule> {
  try {
    return (await import('onnxruntime-node')) as unknown as OrtModule;
  } catch (e) {
    throw new EngineUnavailableError(engine, `onnxruntime-node did not load (${firstLine(e)}); run npm install onnxruntime-node`);
  }
}
