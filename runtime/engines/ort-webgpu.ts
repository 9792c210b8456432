import { EngineDeviceLostError, EngineRunError, EngineUnavailableError } from '../errors.js';
import type { Feeds, HostTensor } from '../tensor.js';
import type { Engine, EngineSession } from './engine.js';
import { createOrtSession, firstLine, ORT_WEB_RUNS, type OrtWebModule } from './ort-session.js';
import { padConvChannels } from '../onnx/pad-conv-channels.js';

/** The few WebGPU objects we touch (TypeScript's DOM library has no WebGPU types yet). */
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}
interface GpuAdapterLike {
  requestDevice(): Promise<GpuDeviceLike>;
}
export interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  destroy(): void;
}

const NO_WEBGPU =
  'this browser exposes no navigator.gpu (WebGPU is off, unsupported, or the page is not a secure context: serve it over https or from localhost)';
const NO_ADAPTER = 'navigator.gpu.requestAdapter() returned no adapter (no usable GPU or driver; on Linux Chrome needs --enable-unsafe-webgpu)';

/**
 * onnxruntime-web's WebGPU build (`onnxruntime-web/webgpu`) with the `webgpu` execution provider, for browsers.
 * The graphs we build are float32 (fp16/int8 factors are widened at load), so no `shader-f16` feature is needed.
 * No WebGPU, no adapter, or a device ORT cannot create is "unavailable": the priority order moves on.
 */
export const ortWebgpu: Engine = {
  id: 'ort-webgpu',
  description: 'onnxruntime-web, WebGPU execution provider',
  async create(model) {
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
    let session: EngineSession;
    try {
      session = await createOrtSession(ort, 'ort-webgpu', padConvChannels(model), { executionProviders: ['webgpu'] }, ORT_WEB_RUNS);
    } catch (e) {
      // ORT creates its own adapter and device while building the first session: a failure there is "cannot
      // run here" (matched on ORT's words only, not on our engine id in the message).
      const ortMessage = e instanceof EngineRunError ? e.message.replace(/^ort-webgpu could not build the model: /, '') : '';
      if (/adapter|device|webgpu/i.test(ortMessage)) throw new EngineUnavailableError('ort-webgpu', `WebGPU did not initialise (${ortMessage})`);
      throw e;
    }
    // ORT publishes the device it created on env.webgpu.device (a value or a promise, depending on the build).
    const device = (await (ort.env.webgpu as { device?: unknown }).device) as GpuDeviceLike | undefined;
    return device ? watchDeviceLoss(session, device) : session;
  },
};

/**
 * Turns a lost device into EngineDeviceLostError: before a run, during it (without waiting for ORT, whose
 * pending GPU reads may never settle), and after it (results read back from a lost device are not trusted).
 * A run waits on a promise of its own, told by `onLost`, never on device.lost itself: that one stays pending for the
 * device's whole life, so each Promise.race against it added a reaction that was never freed (the in-browser soak,
 * bench/soak-browser.ts, saw the page's JS heap grow by ~130 bytes a run, 1.9 MiB over 15,000 runs).
 */
export function watchDeviceLoss(session: EngineSession, device: GpuDeviceLike): EngineSession {
  let lostReason: string | undefined;
  const onLost = new Set<() => void>();
  void device.lost.then((info) => {
    lostReason = [info.reason, info.message].filter(Boolean).join(': ') || 'device lost';
    for (const notify of onLost) notify();
  });
  const lostError = () => new EngineDeviceLostError('ort-webgpu', lostReason ?? 'device lost');
  /** Resolves when the device is lost or after `ms` (never, without `ms`); `done()` drops its listener. */
  const untilLost = (ms?: number): { lost: Promise<void>; done: () => void } => {
    let notify!: () => void;
    const lost = new Promise<void>((resolve) => (notify = resolve));
    const timer = ms === undefined ? undefined : setTimeout(notify, ms);
    onLost.add(notify);
    return { lost, done: () => (onLost.delete(notify), clearTimeout(timer)) };
  };
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
      if (lostReason !== undefined) throw lostError();
      let out: Record<string, HostTensor>;
      const during = untilLost();
      try {
        out = await Promise.race([session.run(feeds), during.lost.then(() => Promise.reject(lostError()))]);
      } catch (e) {
        // A run that fails because the device went away may settle a moment before device.lost does.
        if (lostReason === undefined) {
          const moment = untilLost(50);
          await moment.lost;
          moment.done();
        }
        if (lostReason !== undefined) throw lostError();
        throw e;
      } finally {
        during.done();
      }
      if (lostReason !== undefined) throw lostError();
      return out;
    },
    release: () => session.release(),
  };
}
