import * as tf from '@tensorflow/tfjs-core';
import { EngineRunError, EngineUnsupportedModelError } from '../../errors.js';
import type { Feeds, HostTensor } from '../../tensor.js';
import type { EngineId, EngineSession } from '../engine.js';
import { firstLine } from '../ort-session.js';
import { checkCoverage } from './coverage.js';
import { fuseActivations } from './fuse-activations.js';
import { decodeGraph } from './graph.js';
import { GraphInterpreter } from './interpreter.js';

/**
 * An EngineSession that interprets the ONNX graph with tfjs-core on one tfjs backend. tfjs has one active
 * backend per process, so every run first makes this engine's backend the active one (a no-op when it is).
 */
export async function createTfjsSession(engine: EngineId, backend: string, model: Uint8Array): Promise<EngineSession> {
  let graph;
  try {
    graph = decodeGraph(model);
  } catch (e) {
    throw new EngineRunError(`${engine} could not read the model: ${firstLine(e)}`, 'engine-build');
  }
  const coverage = checkCoverage(graph);
  if (coverage.missingOps.length > 0 || coverage.unsupportedNodes.length > 0) {
    throw new EngineUnsupportedModelError(engine, coverage.missingOps, coverage.unsupportedNodes);
  }
  const interpreter = new GraphInterpreter(graph, fuseActivations(graph, coverage.steps));
  return {
    inputNames: graph.inputs.map((i) => i.name),
    outputNames: graph.outputs.map((o) => o.name),
    async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
      if (tf.getBackend() !== backend) await tf.setBackend(backend);
      try {
        return await interpreter.run(feeds);
      } catch (e) {
        throw new EngineRunError(`${engine} failed to run: ${firstLine(e)}`, 'engine-run');
      }
    },
    async release() {
      interpreter.dispose();
    },
  };
}
