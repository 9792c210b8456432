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
 * A run waits on a promise of its own, told by `onLost`, never on device.lost itself: that one stays pending for the
 * device's whole life, so each Promise.race against it added a reaction that was never freed (the in-browser soak,
 * bench/soak-browser.ts, saw the page's JS heap grow by ~130 bytes a run, 1.9 MiB over 15,000 runs).
 */
export function watchDeviceLoss(engine: EngineId, session: EngineSession, device: GpuDeviceLike): EngineSession {
  let lostReason: string | undefined;
  const onLost = new Set<() => void>();
  void device.lost.then((info) => {
    lostReason = [info.reason, info.message].filter(Boolean).join(': ') || 'device lost';
    for (const notify of onLost) notify();
  });
  const lostError = () => new EngineDeviceLostError(engine, lostReason ?? 'device lost');
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
    precision: session.precision,
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
