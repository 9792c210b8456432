import { EngineRunError, EngineUnavailableError } from '../errors.js';
import type { Engine } from './engine.js';
import { createOrtSession, firstLine, type OrtModule } from './ort-session.js';

/**
 * onnxruntime-node's WebGPU execution provider (Dawn, bundled on Linux x64; Vulkan underneath). Without a GPU,
 * Dawn finds no adapter: that is "unavailable here", so a priority order moves on to the next engine.
 */
export const ortNodeWebgpu: Engine = {
  id: 'ort-node-webgpu',
  description: 'onnxruntime-node, WebGPU execution provider (Dawn)',
  async create(model) {
    let ort: OrtModule;
    try {
      ort = (await import('onnxruntime-node')) as unknown as OrtModule;
    } catch (e) {
      throw new EngineUnavailableError('ort-node-webgpu', `onnxruntime-node did not load (${firstLine(e)})`);
    }
    try {
      return await createOrtSession(ort, 'ort-node-webgpu', model, { executionProviders: ['webgpu'] });
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
