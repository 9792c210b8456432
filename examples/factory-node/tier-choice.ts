/**
 * Which tiers this host loads. `lowrank tune` measures the model on a host and writes presets named for that host's
 * device class into the .lrm's header (the file is replaced, or written with -o). So, in order:
 *  - --tier or --preset: as given;
 *  - presets tuned for this device class (and an engine we may run on), with --latency-ms: preset 'auto', which
 *    takes the tuned preset that meets the budget (the runtime's choice, runtime/choose.ts);
 *  - tuned presets, no --latency-ms: the tuned preset with the most tiers (the one tuned for the loosest budget);
 *  - none: the documented default, every tier (the most accurate; the compiler's own presets are not measured).
 * --memory-mb holds every choice to a memory budget.
 */
import { applicablePresets } from '../../devices/choose-preset.js';
import { deviceClassId } from '../../devices/device-class.js';
import type { DeviceInfo } from '../../devices/device-info.js';
import type { ModelHeader } from '../../formats/model.js';
import { headerLength, readHeader } from '../../formats/read.js';
import { ENGINE_PRIORITY, HEADER_CHUNK_BYTES, toSource, type NodeLoadOptions } from '../../runtime/node.js';
import { enginePriority } from '../../runtime/engines/priority.js';
import type { ServerOptions } from './options.js';

export interface TierChoice {
  options: Pick<NodeLoadOptions, 'tier' | 'preset' | 'latencyMs' | 'memoryMb'>;
  /** For the startup line: why these tiers. */
  why: string;
}

export async function chooseTiers(options: ServerOptions, device: DeviceInfo): Promise<TierChoice> {
  const budgets = { latencyMs: options.latencyMs, memoryMb: options.memoryMb };
  if (options.tier !== undefined) return { options: { ...budgets, tier: options.tier }, why: '--tier' };
  if (options.preset !== undefined) return { options: { ...budgets, preset: options.preset }, why: `preset ${options.preset} (--preset)` };
  const classId = deviceClassId(device);
  const engines = enginePriority(ENGINE_PRIORITY, options.engine);
  // Unverified header: it only picks the option; load() checks the file (and its pin) before anything runs.
  const header = await peekHeader(options.model);
  const tuned = applicablePresets(header, classId, engines).filter((p) => p.deviceClass === classId);
  if (tuned.length > 0 && options.latencyMs !== undefined) {
    return { options: { ...budgets, preset: 'auto' }, why: `preset auto for ${options.latencyMs} ms among ${tuned.map((p) => p.name).join(', ')}, tuned for ${classId}` };
  }
  if (tuned.length > 0) {
    const [best] = [...tuned].sort((a, b) => b.tiers - a.tiers || (a.latencyMsP50 ?? Infinity) - (b.latencyMsP50 ?? Infinity));
    return { options: { ...budgets, preset: best!.name }, why: `preset ${best!.name}, tuned for ${classId}` };
  }
  return { options: budgets, why: `every tier: no preset tuned for ${classId}, see lowrank tune` };
}

/** The header of a .lrm file or URL: one read of the first chunk, a second only for a header past it. */
async function peekHeader(model: string): Promise<ModelHeader> {
  const source = toSource(model);
  let head = await source.read(0, HEADER_CHUNK_BYTES, { atMost: true });
  const end = headerLength(head, { fileName: source.name });
  if (head.length < end) head = await source.read(0, end);
  return (await readHeader(head, { fileName: source.name, totalLength: await source.size() })).header;
}
