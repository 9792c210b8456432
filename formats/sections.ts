/**
 * Which payload sections a device needs for a tier prefix. Format version 2 lets a layer run dense from some
 * tier on (FactoredLayer.denseTier): its blocks of the tiers before that lie in transient sections, needed only
 * while fewer tiers are loaded, so what a device reads is the dense section, tiers 0..k, and the transient
 * sections of those tiers whose layers are not dense yet at k. With no dense layers this is the v1 prefix.
 */
import type { ByteRange, FactoredLayer, ModelHeader } from './model.js';

export type PayloadSectionName = 'dense' | `tier-${number}` | `transient-${number}-${number}` | `refit-${number}`;

export interface PayloadSection {
  name: PayloadSectionName;
  kind: 'dense' | 'tier' | 'transient' | 'refit';
  /** The tier a tier, transient or refit section belongs to. */
  tier?: number;
  /** Transient sections: the tier from which their layers run dense. */
  denseTier?: number;
  range: ByteRange;
  sha256: string;
}

/** Whether the layer runs from its dense weight (not its factors) once `tiers` tiers are loaded. */
export function runsDenseAt(layer: Pick<FactoredLayer, 'denseTier'>, tiers: number): boolean {
  return layer.denseTier !== undefined && layer.denseTier < tiers;
}

/** The dense section, every tier and every transient section, in payload order (refit sections excluded). */
export function weightSections(header: ModelHeader): PayloadSection[] {
  const tiers = header.tiers.map((t): PayloadSection => ({ name: `tier-${t.index}`, kind: 'tier', tier: t.index, range: t.range, sha256: t.sha256 }));
  const transient = header.tiers.flatMap((t) =>
    (t.transient ?? []).map((x): PayloadSection => ({ name: `transient-${t.index}-${x.denseTier}`, kind: 'transient', tier: t.index, denseTier: x.denseTier, range: x.range, sha256: x.sha256 })),
  );
  transient.sort((a, b) => a.range.offset - b.range.offset);
  return [{ name: 'dense', kind: 'dense', range: header.dense.range, sha256: header.dense.sha256 }, ...tiers, ...transient];
}

/** The sections tiers 0..tiers-1 need (refits aside), in payload order. */
export function sectionsFor(header: ModelHeader, tiers: number): PayloadSection[] {
  if (!Number.isInteger(tiers) || tiers < 0 || tiers > header.tiers.length) {
    throw new RangeError(`tiers must be an integer in 0..${header.tiers.length}, got ${tiers}`);
  }
  return weightSections(header).filter((s) => {
    if (s.kind === 'dense') return true;
    if (s.tier! >= tiers) return false;
    return s.kind === 'tier' || s.denseTier! >= tiers;
  });
}

/** Bytes of the weight sections tiers 0..tiers-1 need (header and refit section not included). */
export function sectionBytes(header: ModelHeader, tiers: number): number {
  return sectionsFor(header, tiers).reduce((sum, s) => sum + s.range.length, 0);
}
