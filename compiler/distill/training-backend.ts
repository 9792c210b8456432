import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { startTfjsWasm } from '../../runtime/engines/tfjs/wasm.js';
import { startTfjsWebgpu } from '../../runtime/engines/tfjs/webgpu.js';
import { nodeWebgpu, tfjsWasmFiles } from '../../runtime/engines/tfjs/node-sources.js';
import { CompileOptionError } from '../errors.js';
import { registerGradientKernels } from './wasm-gradient-kernels.js';
import { registerNdGradients } from './nd-gradients.js';

/** The tfjs backends distillation can train on (tfjs autodiff runs on any of them). */
export const TRAINING_ENGINES = ['tfjs-wasm', 'tfjs-cpu', 'tfjs-webgpu'] as const;
export type TrainingEngine = (typeof TRAINING_ENGINES)[number];

export function parseTrainingEngine(text: string): TrainingEngine {
  if ((TRAINING_ENGINES as readonly string[]).includes(text)) return text as TrainingEngine;
  throw new CompileOptionError(`--engine must be one of ${TRAINING_ENGINES.join(', ')} for distillation, got "${text}"`, 'engine');
}

/**
 * tfjs's gradient functions, bundled by scripts/bundle.mjs into dist/vendor/ (tfjs-core's entry point leaves them
 * out). Found from the package root, so it works from dist/ and from the sources under test.
 */
let gradients: Promise<unknown> | undefined;
function registerGradients(): Promise<unknown> {
  if (!gradients) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    const file = join(dir, 'dist', 'vendor', 'tfjs-gradients.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
    gradients = import(pathToFileURL(file).href);
  }
  return gradients;
}

/** Makes `engine`'s tfjs backend the active one (started once per process), with tfjs's gradients registered. */
export async function startTrainingBackend(engine: TrainingEngine): Promise<void> {
  await registerGradients();
  registerNdGradients();
  switch (engine) {
    case 'tfjs-wasm':
      await startTfjsWasm(tfjsWasmFiles());
      if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
      registerGradientKernels('wasm');
      return;
    case 'tfjs-webgpu':
      await startTfjsWebgpu(nodeWebgpu);
      if (tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
      return;
    case 'tfjs-cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('tfjs-backend-cpu did not start');
  }
}
