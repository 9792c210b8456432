import { LrmChecksumError } from '../formats/errors.js';
import type { ModelHeader } from '../formats/model.js';
import { verifyRefitSection } from '../formats/read.js';
import { sectionsFor } from '../formats/sections.js';
import { sha256Hex } from '../formats/sha256.js';
import { sectionKey, type ModelCache, type SectionName } from './cache/model-cache.js';
import { SectionView } from './payload-view.js';
import type { ByteSource, SourceReadOptions } from './source/source.js';

/** Bytes of the tier sections as they arrive: `loaded` of `total` still missing when the step began. */
export type TierProgress = (loaded: number, total: number) => void;

/** How the loader's reads may be cancelled: the app's AbortSignal, and a stall timeout for network sources. */
export type TransferOptions = Pick<SourceReadOptions, 'signal' | 'timeoutMs' | 'retries'>;

interface Section {
  name: SectionName;
  start: number;
  end: number;
  sha256: string;
  tier?: number;
}

/**
 * Holds the verified sections of one .lrm file that the loaded tiers need (dense, tiers 0..k, and in format v2
 * the transient blocks of layers not yet dense; formats/sections.ts) and brings it up to more tiers: sections
 * already held or in the cache cost nothing, the rest comes in as few range requests as their layout allows (one
 * when the tiers are a prefix of the file). Every new section is checked against its SHA-256 before it is kept;
 * if any fails, nothing new is kept (what was loaded before stays usable) and the source is told to drop what
 * it buffered, so a retry downloads again. Sections that no larger tier needs are let go on the way up.
 */
export class SectionLoader {
  /** Verified sections by name: their bytes, in file coordinates. */
  private readonly held = new Map<SectionName, { section: Section; bytes: Uint8Array }>();
  /** Bytes the reads returned, header included (cache hits excluded). */
  private returned: number;

  /** Bytes received from the source, header included (cache hits excluded): what it transferred, where it knows. */
  get bytesFetched(): number {
    return this.source.transferred ?? this.returned;
  }

  /** For messages: the file name or URL. */
  get sourceName(): string {
    return this.source.name;
  }

  constructor(
    private readonly source: ByteSource,
    private readonly header: ModelHeader,
    private readonly payloadStart: number,
    /** The first bytes of the file, as read for the header (they may reach into the payload). */
    private readonly head: Uint8Array,
    /** Hex SHA-256 of the header: the content half of every cache key. */
    private readonly headerHash: string,
    private readonly cache?: ModelCache,
  ) {
    this.returned = head.length;
  }

  private sectionsFor(tiers: number): Section[] {
    return sectionsFor(this.header, tiers).map((s) => ({ name: s.name, start: this.payloadStart + s.range.offset, end: this.payloadStart + s.range.offset + s.range.length, sha256: s.sha256, tier: s.tier }));
  }

  /** The payload as tiers 0..tiers-1 need it, every section in it verified. */
  async ensure(tiers: number, onProgress?: TierProgress, transfer: TransferOptions = {}): Promise<SectionView> {
    const wanted = this.sectionsFor(tiers);
    const todo = wanted.filter((s) => !this.held.has(s.name));
    const total = todo.reduce((sum, s) => sum + s.end - s.start, 0);
    let loaded = 0;
    const arrived = new Map<SectionName, Uint8Array>();
    const fromCache = new Set<SectionName>();
    const missing: Section[] = [];
    for (const s of todo) {
      const cached = s.end <= this.head.length ? this.head.subarray(s.start, s.end) : await this.fromCache(s);
      if (cached) {
        arrived.set(s.name, cached);
        if (s.end > this.head.length) fromCache.add(s.name);
        loaded += s.end - s.start;
      } else missing.push(s);
    }
    onProgress?.(loaded, total);

    for (const run of mergeRuns(missing)) {
      // Bytes the head read already holds need not come again.
      const from = Math.max(run[0]!.start, Math.min(this.head.length, run[0]!.end));
      const to = run[run.length - 1]!.end;
      const before = loaded;
      const bytes = await this.source.read(from, to - from, { ...transfer, onBytes: (n) => onProgress?.(before + n, total) });
      this.returned += bytes.length;
      for (const s of run) {
        const copy = new Uint8Array(s.end - s.start);
        if (s.start < from) copy.set(this.head.subarray(s.start, from));
        copy.set(bytes.subarray(Math.max(0, s.start - from), s.end - from), Math.max(0, from - s.start));
        arrived.set(s.name, copy);
        loaded += s.end - s.start;
      }
    }
    if (missing.length > 0) onProgress?.(loaded, total);
    for (const s of todo) {
      if (fromCache.has(s.name) || (await sha256Hex(arrived.get(s.name)!)) === s.sha256) continue;
      this.source.discard?.();
      throw new LrmChecksumError(this.source.name, s.tier === undefined ? 'dense' : 'tier', s.tier);
    }
    for (const s of todo) {
      this.held.set(s.name, { section: s, bytes: arrived.get(s.name)! });
      if (this.cache && !fromCache.has(s.name)) await this.store(s.name, arrived.get(s.name)!);
    }
    // A transient section is needed by no larger tier count once its layers run dense: let it go (a switch back
    // down to fewer tiers fetches it again, from the cache when there is one).
    const keep = new Set(wanted.map((s) => s.name));
    for (const name of [...this.held.keys()]) if (name.startsWith('transient-') && !keep.has(name)) this.held.delete(name);
    return new SectionView(
      wanted.map((s) => ({ offset: s.start - this.payloadStart, bytes: this.held.get(s.name)!.bytes })),
      this.header.payloadLength,
    );
  }

  /**
   * The refit section of one tier (files compiled with --refit), verified: from the cache or one range request.
   * Kept apart from the prefix: it is used only while exactly that many tiers are loaded.
   */
  async refit(tier: number, transfer: TransferOptions = {}): Promise<Uint8Array> {
    const r = this.header.tiers[tier].refit;
    if (!r) throw new RangeError(`tier ${tier} has no refit section`);
    const s: Section = { name: `refit-${tier}`, start: this.payloadStart + r.range.offset, end: this.payloadStart + r.range.offset + r.range.length, sha256: r.sha256, tier };
    const cached = await this.fromCache(s);
    if (cached) return cached;
    // Small files may have arrived whole with the first read.
    const held = s.end <= this.head.length;
    const bytes = held ? this.head.slice(s.start, s.end) : await this.source.read(s.start, s.end - s.start, transfer);
    if (!held) this.returned += bytes.length;
    try {
      await verifyRefitSection(bytes, this.header, tier, { fileName: this.source.name });
    } catch (e) {
      this.source.discard?.();
      throw e;
    }
    if (this.cache) await this.store(s.name, bytes);
    return bytes;
  }

  /** A cached copy of the section whose hash matches, or undefined; a bad copy is dropped. */
  private async fromCache(s: Section): Promise<Uint8Array | undefined> {
    if (!this.cache) return undefined;
    const key = sectionKey(this.headerHash, s.name);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.cache.get(key);
    } catch {
      return undefined;
    }
    if (!bytes) return undefined;
    if (bytes.length !== s.end - s.start || (await sha256Hex(bytes)) !== s.sha256) {
      await this.cache.delete(key).catch(() => undefined);
      return undefined;
    }
    return bytes;
  }

  private async store(name: SectionName, bytes: Uint8Array): Promise<void> {
    try {
      await this.cache!.put(sectionKey(this.headerHash, name), bytes);
    } catch {
      // A cache that cannot store costs a download next time; it must not fail this load.
    }
  }
}

/**
 * Missing sections (in file order) grouped into runs of back-to-back sections, one range request each: bytes no
 * loaded tier needs are never downloaded (tiers 0..k are one run; transient sections add at most one per dense tier).
 */
function mergeRuns(sections: Section[]): Section[][] {
  const runs: Section[][] = [];
  for (const s of [...sections].sort((a, b) => a.start - b.start)) {
    const run = runs[runs.length - 1];
    if (run && s.start === run[run.length - 1]!.end) run.push(s);
    else runs.push([s]);
  }
  return runs;
}
