/**
 * Errors and fallbacks in words for whoever stands at the kiosk. Errors are matched by their stable `code` (or
 * name), not by instanceof: the runtime arrives as its own bundle, and a service worker may hand back an old copy.
 */
import type { FallbackEvent } from '../../../runtime/browser-webgpu.js';

/** The session's onFallback events: a lost GPU device during a run, or WebGPU missing at load. */
export function explainFallback(event: FallbackEvent): { key: string; text: string } {
  const next = event.next ?? 'no other engine';
  // The runtime's message ends with advice for developers; whoever stands at the kiosk needs the browser's reason.
  const lost = /lost its GPU device \((.*)\);/.exec(event.reason);
  if (lost) {
    return { key: 'device-lost', text: `The GPU device was lost (${lost[1]}); the kiosk carries on with ${next} (slower).` };
  }
  if (event.engine === 'ort-webgpu' || event.engine === 'tfjs-webgpu') {
    return { key: 'no-webgpu', text: `WebGPU is not available in this browser, so the model runs on WebAssembly (${next}), which is slower. Why: ${event.reason}` };
  }
  return { key: `fallback-${event.engine}`, text: `${event.engine} could not run the model, so it runs on ${next}. Why: ${event.reason}` };
}

/** A load, upgrade or run failure: one line that says what happened and what to do. */
export function explainError(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string };
  const message = e?.message ?? String(error);
  if (e?.code === 'LRM_INTEGRITY') return `The model file was refused: it is not the file this kiosk was built for (integrity pin mismatch). ${message}`;
  if (typeof e?.code === 'string' && e.code.startsWith('LRM_')) return `The model file was refused: it is damaged or not an .lrm file (${e.name}). ${message}`;
  if (isQuotaError(error)) return `The browser's storage is full, so the model cannot be kept for offline use. Free some space (site settings → storage) and reload. ${message}`;
  if (e?.code === 'device-lost') return `The GPU device was lost and no other engine could take over; reload the page. ${message}`;
  if (e?.code === 'fetch' || e?.code === 'incomplete-download' || e?.code === 'timeout') {
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false ? ' The device is offline and this part of the model is not stored yet.' : '';
    return `The model could not be downloaded.${offline} ${message}`;
  }
  if (e?.code === 'engine-unavailable') return `No engine can run the model in this browser. ${message}`;
  return `Something went wrong: ${message}`;
}

/** Browsers report a full store as QuotaExceededError (Firefox: NS_ERROR_DOM_QUOTA_REACHED). */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
