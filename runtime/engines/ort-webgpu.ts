import { EngineRunError, EngineUnavailableError } from '../errors.js';
import { watchDeviceLoss, type GpuDeviceLike } from './device-loss.js';
import type { Engine, EngineSession } from './engine.js';
import { createOrtSession, firstLine, ORT_WEB_RUNS, type OrtWebModule } from './ort-session.js';
import { padConvChannels } from '../onnx/pad-conv-channels.js';
import { ortPrecision, withPrecision } from './ort-precision.js';

/** The few WebGPU objects we touch (TypeScript's DOM library has no WebGPU types yet). */
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}
interface GpuAdapterLike {
  requestDevice(): Promise<GpuDeviceLike>;
  features?: { has(name: string): boolean };
}

const NO_WEBGPU =
  'this browser exposes no navigator.gpu (WebGPU is off, unsupported, or the page is not a secure context: serve it over https or from localhost)';
const NO_ADAPTER = 'navigator.gpu.requestAdapter() returned no adapter (no usable GPU or driver; on Linux Chrome needs --enable-unsafe-webgpu)';

/**
 * onnxruntime-web's WebGPU build (`onnxruntime-web/webgpu`) with the `webgpu` execution provider, for browsers.
 * The graphs we build are float32 (fp16/int8/int4 weights are widened at load); with precision 'auto' (asked for)
 * an adapter with `shader-f16` gets them in float16 instead (runtime/onnx/half-precision.ts: half the weights' GPU
 * memory; onnxruntime asks for the feature when it creates its device), where the graph converts.
 * No WebGPU, no adapter, or a device ORT cannot create is "unavailable": the priority order moves on.
 */
export const ortWebgpu: Engine = {
  id: 'ort-webgpu',
  description: 'onnxruntime-web, WebGPU execution provider',
  async create(model, context) {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    if (!gpu) throw new EngineUnavailableError('ort-webgpu', NO_WEBGPU);
    const adapter = await gpu.requestAdapter().catch(() => null);
    if (!adapter) throw new EngineUnavailableError('ort-webgpu', NO_ADAPTER);
    // ORT reports a failed device creation as a bare number; asking for a device first gives a reason to show.
    try {
      (await adapter.requestDevice()).destroy();
    } catch (e) {
      throw new EngineUnavailableError('ort-webgpu', `the GPU adapter could not create a GPU device (${firstLine(e)})`);
    }
    let ort: OrtWebModule;
    try {
      ort = (await import('onnxruntime-web/webgpu')) as OrtWebModule;
    } catch (e) {
      throw new EngineUnavailableError('ort-webgpu', `onnxruntime-web/webgpu did not load (${firstLine(e)})`);
    }
    const chosen = ortPrecision('ort-webgpu', padConvChannels(model), context?.precision, adapter.features?.has('shader-f16') === true, true);
    let session: EngineSession;
    try {
      session = withPrecision(await createOrtSession(ort, 'ort-webgpu', chosen.model, { executionProviders: ['webgpu'] }, ORT_WEB_RUNS), chosen.precision);
    } catch (e) {
      // ORT creates its own adapter and device while building the first session: a failure there is "cannot
      // run here" (matched on ORT's words only, not on our engine id in the message).
      const ortMessage = e instanceof EngineRunError ? e.message.replace(/^ort-webgpu could not build the model: /, '') : '';
      if (/adapter|device|webgpu/i.test(ortMessage)) throw new EngineUnavailableError('ort-webgpu', `WebGPU did not initialise (${ortMessage})`);
      throw e;
    }
    // ORT publishes the device it created on env.webgpu.device (a value or a promise, depending on the build).
    const device = (await (ort.env.webgpu as { device?: unknown }).device) as GpuDeviceLike | undefined;
    return device ? watchDeviceLoss('ort-webgpu', session, device) : session;
  },
};
