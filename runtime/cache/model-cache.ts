/**
 * Where verified sections of a model (the dense weights, each tier) are kept between loads. Keys start with the
 * SHA-256 of the file's header, which covers every section's own hash: a new model version has new keys, so it
 * never mixes with an old one. The session verifies what a cache returns before use, so a damaged entry costs
 * a download, never a wrong answer.
 */
export interface ModelCache {
  /** For messages and reports: 'cache-api', 'indexeddb', 'memory', 'directory'. */
  readonly kind: string;
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

import type { PayloadSectionName } from '../../formats/sections.js';

/** 'dense', 'tier-<k>', 'transient-<k>-<d>' or 'refit-<k>' (formats/sections.ts). */
export type SectionName = PayloadSectionName;

/** `<header sha256 hex>/<section>`. */
export function sectionKey(headerHash: string, section: SectionName): string {
  return `${headerHash}/${section}`;
}
