import { EngineRunError, EngineUnavailableError } from '../errors.js';
import type { Engine } from './engine.js';
import { importOrtNode } from './ort-node-module.js';
import { ortPrecision, withPrecision } from './ort-precision.js';
import { createOrtSession } from './ort-session.js';
import { padConvChannels } from '../onnx/pad-conv-channels.js';

/**
 * onnxruntime-node's WebGPU execution provider (Dawn, bundled on Linux x64; Vulkan underneath). Without a GPU,
 * Dawn finds no adapter: that is "unavailable here", so a priority order moves on to the next engine.
 */
export const ortNodeWebgpu: Engine = {
  id: 'ort-node-webgpu',
  description: 'onnxruntime-node, WebGPU execution provider (Dawn)',
  async create(model, context) {
    const ort = await importOrtNode('ort-node-webgpu');
    // onnxruntime-node does not say which features its Dawn adapter has: 'auto' stays float32 here; 'fp16' is tried.
    const chosen = ortPrecision('ort-node-webgpu', padConvChannels(model), context?.precision, false);
    try {
      return withPrecision(await createOrtSession(ort, 'ort-node-webgpu', chosen.model, { executionProviders: ['webgpu'] }), chosen.precision);
    } catch (e) {
      const message = (e as Error).message;
      if (e instanceof EngineRunError && /adapter|webgpu_context|dawn|vulkan/i.test(message)) {
        throw new EngineUnavailableError(
          'ort-node-webgpu',
          'no WebGPU adapter (needs a Vulkan driver; on a machine without a GPU, Debian\'s chromium + libvulkan1 with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json give a CPU one)',
        );
      }
      throw e;
    }
  },
};
