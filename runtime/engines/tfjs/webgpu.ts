import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { EngineUnavailableError } from '../../errors.js';
import { watchDeviceLoss } from '../device-loss.js';
import type { EngineSession } from '../engine.js';
import { firstLine } from '../ort-session.js';
import { createTfjsSession } from './session.js';
import { startOnce } from './start-once.js';

/** Where the WebGPU implementation comes from: navigator.gpu in a browser, the `webgpu` package (Dawn) in Node. */
export interface WebGpuSource {
  /** The GPU entry object, or undefined where there is none. Called once per process. */
  gpu(): Promise<GPU | undefined>;
  /**
   * When no GPU adapter is found, ask for the fallback (CPU, e.g. SwiftShader) adapter: the only kind a machine
   * without a GPU has. Slow, but the same shaders and numerics.
   */
  allowFallbackAdapter: boolean;
  /** Appended to "no WebGPU adapter": how to get one on this platform. */
  hint: string;
}

/**
 * Starts tfjs's WebGPU backend on an adapter we request ourselves: tfjs's own registration reads the global
 * navigator.gpu at import time and never asks for the fallback adapter, so ours replaces it. Returns the device,
 * which every tfjs-webgpu session of the process shares, for the sessions to watch for its loss.
 */
export const startTfjsWebgpu = startOnce(async (source: WebGpuSource): Promise<GPUDevice> => {
  let gpu: GPU | undefined;
  try {
    gpu = await source.gpu();
  } catch (e) {
    throw new EngineUnavailableError('tfjs-webgpu', `WebGPU could not be loaded: ${firstLine(e)}`);
  }
  if (!gpu) throw new EngineUnavailableError('tfjs-webgpu', `this platform has no WebGPU (${source.hint})`);
  const adapter =
    (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ??
    (source.allowFallbackAdapter ? await gpu.requestAdapter({ forceFallbackAdapter: true }) : null);
  if (!adapter) throw new EngineUnavailableError('tfjs-webgpu', `no WebGPU adapter (${source.hint})`);
  const limits = adapter.limits;
  // The same limits tfjs's own registration asks for: its shaders are tuned to the adapter's maxima.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info));
  if (!(await tf.setBackend('webgpu'))) throw new EngineUnavailableError('tfjs-webgpu', 'tfjs\'s WebGPU backend did not start on the adapter');
  return device;
});

/**
 * tfjs's backend does not watch its device: without the watch, a run on a lost device waits forever for its
 * read-back (Chromium) or fails as a plain run error (Dawn in Node), and the session never moves to tfjs-wasm.
 */
export async function createTfjsWebgpuSession(model: Uint8Array, source: WebGpuSource): Promise<EngineSession> {
  const device = await startTfjsWebgpu(source);
  return watchDeviceLoss('tfjs-webgpu', await createTfjsSession('tfjs-webgpu', 'webgpu', model), device);
}
