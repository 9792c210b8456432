import type { Engine } from './engine.js';
import { importOrtNode } from './ort-node-module.js';
import { createOrtSession } from './ort-session.js';

/** onnxruntime-node on the CPU execution provider. */
export const ortNodeCpu: Engine = {
  id: 'ort-node-cpu',
  description: 'onnxruntime-node, CPU execution provider',
  async create(model) {
    return createOrtSession(await importOrtNode('ort-node-cpu'), 'ort-node-cpu', model, { executionProviders: ['cpu'] });
  },
};
