import type { Engine } from './engine.js';
import { importOrtNode } from './ort-node-module.js';
import { ortPrecision, withPrecision } from './ort-precision.js';
import { createOrtSession } from './ort-session.js';

/** onnxruntime-node on the CPU execution provider. */
export const ortNodeCpu: Engine = {
  id: 'ort-node-cpu',
  description: 'onnxruntime-node, CPU execution provider',
  async create(model, context) {
    const chosen = ortPrecision('ort-node-cpu', model, context?.precision, false);
    return withPrecision(await createOrtSession(await importOrtNode('ort-node-cpu'), 'ort-node-cpu', chosen.model, { executionProviders: ['cpu'] }), chosen.precision);
  },
};
