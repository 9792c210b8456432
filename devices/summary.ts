import { deviceClassId } from './device-class.js';
import type { DeviceInfo } from './device-info.js';

/** A few readable lines about a device, as `lowrank devices` prints them. */
export function deviceSummary(device: DeviceInfo): string {
  const lines = [`device class: ${deviceClassId(device)}`];
  const mem = device.memoryMb === undefined ? 'unknown' : `${(device.memoryMb / 1024).toFixed(1)} GiB`;
  const free = device.freeMemoryMb === undefined ? '' : ` (${(device.freeMemoryMb / 1024).toFixed(1)} GiB free)`;
  lines.push(`${device.runtime} on ${device.platform}/${device.arch}, ${device.cpuCores ?? '?'} CPU cores, memory ${mem}${free}`);
  const threads = device.wasm.threads ? 'threads' : device.crossOriginIsolated === false ? 'no threads (page is not cross-origin isolated)' : 'no threads';
  lines.push(`wasm: ${device.wasm.simd ? 'SIMD' : 'no SIMD'}, ${threads}`);
  if (device.ortNodeProviders) {
    lines.push(`onnxruntime-node providers: ${device.ortNodeProviders.map((p) => (p.bundled ? p.name : `${p.name} (not bundled)`)).join(', ')}`);
  }
  if (!device.webgpuProbed) lines.push('webgpu: not probed');
  else if (!device.webgpu) lines.push('webgpu: no adapter');
  else {
    const a = device.webgpu;
    const who = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'adapter found';
    lines.push(`webgpu: ${who}${a.isFallbackAdapter ? ' (software fallback)' : ''}`);
    const limits = Object.entries(a.limits).map(([k, v]) => `${k} ${v}`).join(', ');
    if (limits) lines.push(`  limits: ${limits}`);
    if (a.features.length > 0) lines.push(`  features: ${a.features.join(', ')}`);
  }
  for (const note of device.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
