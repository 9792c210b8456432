import { EngineDeviceLostError } from '../errors.js';
import type { Feeds, HostTensor } from '../tensor.js';
import type { EngineId, EngineSession } from './engine.js';

/** The part of a GPUDevice watched here (TypeScript's DOM library has no WebGPU types yet). */
export interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  destroy(): void;
}

/**
 * Turns a lost device into EngineDeviceLostError, which the session answers by repeating the run on the next
 * engine: before a run, during it (without waiting for the engine, whose pending GPU reads may never settle), and
 * after it (results read back from a lost device are not trusted). For every engine that runs on one GPUDevice.
 */
export function watchDeviceLoss(engine: EngineId, session: EngineSession, device: GpuDeviceLike): EngineSession {
  let lostReason: string | undefined;
  const lost = device.lost.then((info) => {
    lostReason = [info.reason, info.message].filter(Boolean).join(': ') || 'device lost';
    return lostReason;
  });
  const lostError = () => new EngineDeviceLostError(engine, lostReason ?? 'device lost');
  const lostDuringRun = lost.then(() => Promise.reject(lostError()));
  lostDuringRun.catch(() => {}); // only a run racing it observes this rejection
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
      if (lostReason !== undefined) throw lostError();
      let out: Record<string, HostTensor>;
      try {
        out = await Promise.race([session.run(feeds), lostDuringRun]);
      } catch (e) {
        // A run that fails because the device went away may settle a moment before device.lost does.
        await Promise.race([lost, new Promise((resolve) => setTimeout(resolve, 50))]);
        if (lostReason !== undefined) throw lostError();
        throw e;
      }
      if (lostReason !== undefined) throw lostError();
      return out;
    },
    release: () => session.release(),
  };
}
