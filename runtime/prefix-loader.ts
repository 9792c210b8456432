import { LrmChecksumError } from '../formats/errors.js';
import type { ModelHeader } from '../formats/model.js';
import { verifyRefitSection } from '../formats/read.js';
import { sha256Hex } from '../formats/sha256.js';
import { sectionKey, type ModelCache, type SectionName } from './cache/model-cache.js';
import type { ByteSource } from './source/source.js';

/** Bytes of the tier sections as they arrive: `loaded` of `total` still missing when the step began. */
export type TierProgress = (loaded: number, total: number) => void;

interface Section {
  name: SectionName;
  start: number;
  end: number;
  sha256: string;
  tier?: number;
}

/**
 * Holds the verified prefix of one .lrm file (header, dense section, tiers 0..k-1) and brings it up to more
 * tiers: sections already held or in the cache cost nothing, the rest comes in ONE range request. Every new
 * section is checked against its SHA-256 before it is kept; if any fails, nothing new is kept (what was
 * loaded before stays usable) and the source is told to drop what it buffered, so a retry downloads again.
 */
export class PrefixLoader {
  private held: Uint8Array;
  /** Sections 0..verified-1 (dense, tier 0, ...) of `held` are verified. */
  private verified = 0;
  /** Bytes received from the source, header included (cache hits excluded). */
  bytesFetched: number;
  private readonly sections: Section[];

  constructor(
    private readonly source: ByteSource,
    private readonly header: ModelHeader,
    private readonly payloadStart: number,
    /** The first bytes of the file, as read for the header (they may reach into the payload). */
    head: Uint8Array,
    /** Hex SHA-256 of the header: the content half of every cache key. */
    private readonly headerHash: string,
    private readonly cache?: ModelCache,
  ) {
    this.held = head;
    this.bytesFetched = head.length;
    const at = (r: { offset: number; length: number }) => ({ start: payloadStart + r.offset, end: payloadStart + r.offset + r.length });
    this.sections = [
      { name: 'dense', ...at(header.dense.range), sha256: header.dense.sha256 },
      ...header.tiers.map((t) => ({ name: `tier-${t.index}` as SectionName, ...at(t.range), sha256: t.sha256, tier: t.index })),
    ];
  }

  /** Bytes [0, end of tier tiers-1), every section in it verified. */
  async ensure(tiers: number, onProgress?: TierProgress): Promise<Uint8Array> {
    const wanted = this.sections.slice(0, tiers + 1);
    const end = wanted[wanted.length - 1].end;
    if (this.verified >= wanted.length) return this.held.subarray(0, end);

    const todo = wanted.slice(this.verified);
    const total = end - todo[0].start;
    let loaded = 0;
    const next = new Uint8Array(Math.max(end, this.held.length));
    next.set(this.held);
    const fromCache = new Set<Section>();
    let missing: Section | undefined;
    for (const s of todo) {
      if (s.end <= this.held.length) loaded += s.end - s.start;
      else if (!missing && (await this.fromCache(s, next))) {
        fromCache.add(s);
        loaded += s.end - s.start;
      } else missing ??= s;
    }
    onProgress?.(loaded, total);

    const fetched: Section[] = [];
    if (missing) {
      // One request from the first missing byte to the end of the last tier asked for.
      const from = Math.max(missing.start, Math.min(this.held.length, missing.end));
      const before = loaded;
      const bytes = await this.source.read(from, end - from, { onBytes: (n) => onProgress?.(before + n, total) });
      next.set(bytes, from);
      this.bytesFetched += bytes.length;
      fetched.push(...todo.filter((s) => s.end > from));
    }
    for (const s of todo) {
      if (fromCache.has(s) || (await sha256Hex(next.subarray(s.start, s.end))) === s.sha256) continue;
      this.source.discard?.();
      throw new LrmChecksumError(this.source.name, s.tier === undefined ? 'dense' : 'tier', s.tier);
    }
    this.held = next;
    this.verified = wanted.length;
    if (this.cache) {
      for (const s of fetched) await this.store(s);
    }
    return next.subarray(0, end);
  }

  /**
   * The refit section of one tier (files compiled with --refit), verified: from the cache or one range request.
   * Kept apart from the prefix: it is used only while exactly that many tiers are loaded.
   */
  async refit(tier: number): Promise<Uint8Array> {
    const r = this.header.tiers[tier].refit;
    if (!r) throw new RangeError(`tier ${tier} has no refit section`);
    const s: Section = { name: `refit-${tier}`, start: this.payloadStart + r.range.offset, end: this.payloadStart + r.range.offset + r.range.length, sha256: r.sha256, tier };
    const cached = new Uint8Array(s.end - s.start);
    if (await this.fromCache({ ...s, start: 0, end: cached.length }, cached)) return cached;
    // Small files may have arrived whole with the first read.
    const held = s.end <= this.held.length;
    const bytes = held ? this.held.slice(s.start, s.end) : await this.source.read(s.start, s.end - s.start);
    if (!held) this.bytesFetched += bytes.length;
    try {
      await verifyRefitSection(bytes, this.header, tier, { fileName: this.source.name });
    } catch (e) {
      this.source.discard?.();
      throw e;
    }
    if (this.cache) await this.cache.put(sectionKey(this.headerHash, s.name), bytes).catch(() => undefined);
    return bytes;
  }

  /** Copies a cached section into `into` when the cache has a copy whose hash matches; drops a bad copy. */
  private async fromCache(s: Section, into: Uint8Array): Promise<boolean> {
    if (!this.cache) return false;
    const key = sectionKey(this.headerHash, s.name);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.cache.get(key);
    } catch {
      return false;
    }
    if (!bytes) return false;
    if (bytes.length !== s.end - s.start || (await sha256Hex(bytes)) !== s.sha256) {
      await this.cache.delete(key).catch(() => undefined);
      return false;
    }
    into.set(bytes, s.start);
    return true;
  }

  private async store(s: Section): Promise<void> {
    try {
      await this.cache!.put(sectionKey(this.headerHash, s.name), this.held.subarray(s.start, s.end));
    } catch {
      // A cache that cannot store costs a download next time; it must not fail this load.
    }
  }
}
