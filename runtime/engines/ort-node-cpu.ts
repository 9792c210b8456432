import { EngineUnavailableError } from '../errors.js';
import type { Engine } from './engine.js';
import { createOrtSession, firstLine, type OrtModule } from './ort-session.js';

/** onnxruntime-node on the CPU execution provider. Imported lazily so the module costs nothing until used. */
export const ortNodeCpu: Engine = {
  id: 'ort-node-cpu',
  description: 'onnxruntime-node, CPU execution provider',
  async create(model) {
    let ort: OrtModule;
    try {
      ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    } catch (e) {
      throw new EngineUnavailableError('ort-node-cpu', `onnxruntime-node did not load (${firstLine(e)}); run npm install onnxruntime-node`);
    }
    return createOrtSession(ort, 'ort-node-cpu', model, { executionProviders: ['cpu'] });
  },
};
