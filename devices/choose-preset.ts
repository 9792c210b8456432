import type { ModelHeader, Preset } from '../formats/model.js';

export interface Budget {
  /** Memory the session may use, in MB (weights, the kept .lrm bytes and the engine's working memory). */
  memoryMb?: number;
  /** Single-inference latency (p50) the app can accept, in ms. Only measured presets can be held to it. */
  latencyMs?: number;
}

/** One preset of the file, judged for this device and budget. */
export interface PresetVerdict {
  preset: Preset;
  /** Measured peak memory on this device class when `lowrank tune` recorded one, else the estimate. */
  memoryMb: number;
  /** Measured p50 on this device class; undefined when nobody measured it here. */
  latencyMsP50?: number;
  fits: boolean;
  /** Why it does not fit (or does not apply here). */
  why?: string;
}

/**
 * Presets whose device class and engine match this device: `deviceClass` "any" or the detected class,
 * `engine` "any" or one of the engines this entry point would try. Presets `lowrank tune` measured
 * elsewhere are kept out: their numbers say nothing about this device.
 */
export function applicablePresets(header: ModelHeader, deviceClass: string, engines: readonly string[]): Preset[] {
  return header.presets.filter((p) => (p.deviceClass === 'any' || p.deviceClass === deviceClass) && (p.engine === 'any' || engines.includes(p.engine)));
}

export function judgePreset(preset: Preset, budget: Budget, estimateMb: (tiers: number) => number): PresetVerdict {
  const memoryMb = preset.peakMemoryMb ?? estimateMb(preset.tiers);
  const latencyMsP50 = preset.latencyMsP50;
  const problems: string[] = [];
  if (budget.memoryMb !== undefined && memoryMb > budget.memoryMb) problems.push(`needs ≈${Math.ceil(memoryMb)} MB`);
  if (budget.latencyMs !== undefined && latencyMsP50 !== undefined && latencyMsP50 > budget.latencyMs) problems.push(`runs in ${latencyMsP50} ms`);
  return { preset, memoryMb, latencyMsP50, fits: problems.length === 0, why: problems.join(', ') || undefined };
}

/**
 * The best preset that fits: the most tiers (accuracy only grows with tiers), then the best measured
 * fidelity, then the lowest measured latency, then one measured for this exact device class, then one for the
 * engine tried first. A preset without a latency measurement here passes the latency budget (nothing to hold it
 * to) and is ranked after measured ones of the same size. With a latency budget, presets `lowrank tune` measured
 * on this device class come first, those of the engine tried first before the others: only they are known to
 * meet it. Returns every verdict so a caller can explain a refusal.
 */
export function choosePreset(
  header: ModelHeader,
  deviceClass: string,
  engines: readonly string[],
  budget: Budget,
  estimateMb: (tiers: number) => number,
): { best: PresetVerdict | undefined; verdicts: PresetVerdict[] } {
  const verdicts = applicablePresets(header, deviceClass, engines).map((p) => judgePreset(p, budget, estimateMb));
  const engineRank = (p: Preset) => (p.engine === 'any' ? engines.length : engines.indexOf(p.engine));
  const ranked = verdicts.filter((v) => v.fits).sort((a, b) =>
    b.preset.tiers - a.preset.tiers ||
    (b.preset.fidelity ?? -1) - (a.preset.fidelity ?? -1) ||
    (a.latencyMsP50 ?? Infinity) - (b.latencyMsP50 ?? Infinity) ||
    Number(b.preset.deviceClass === deviceClass) - Number(a.preset.deviceClass === deviceClass) ||
    engineRank(a.preset) - engineRank(b.preset),
  );
  if (budget.latencyMs !== undefined) {
    for (const engine of engines) {
      const tuned = ranked.find((v) => v.preset.deviceClass === deviceClass && v.preset.engine === engine && v.latencyMsP50 !== undefined);
      if (tuned) return { best: tuned, verdicts };
    }
  }
  return { best: ranked[0], verdicts };
}
