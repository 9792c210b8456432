/**
 * model.json: what the build tells the page about the model it ships. The page takes the integrity pin from here,
 * so a model swapped on the server (or by a proxy) is refused before any tier is fetched or run.
 */
export interface KioskManifest {
  /** The .lrm, relative to model.json; content-addressed (the header hash is in its name), so it is cached for good. */
  model: string;
  /** "sha256-…" of the file's header, as `lowrank inspect` prints it. */
  integrity: string;
  /** Tiers in the file; the page loads the first, then upgrades to the last. */
  tiers: number;
  /** Bytes to load for 1..tiers tiers (header included), for the progress text. */
  tierBytes: number[];
  /** Class names in the model's output order. */
  labels: string[];
  /** Input image size (square) and per-channel normalisation after scaling pixels to 0..1. */
  input: { size: number; mean: number[]; std: number[] };
  /** The "search by meaning" panel (absent: the build has none, and the panel stays hidden). */
  search?: SearchManifest;
}

/**
 * The search panel's sentence encoder (USE-lite) and what it searches. Every file is pinned: the .lrm by its header
 * hash (checked by the runtime before a tier is fetched), the vocabulary and the phrases by the SHA-256 of the
 * whole file (SRI form, checked by app/search.ts); all three names carry their hash, so they are cached for good.
 */
export interface SearchManifest {
  /** The .lrm, relative to model.json. */
  model: string;
  integrity: string;
  /** Tiers the page loads (of `modelTiers`): the smallest that ranks well. */
  tiers: number;
  modelTiers: number;
  /** Bytes to load for `tiers` tiers (header included). */
  bytes: number;
  /** The SentencePiece vocabulary ([[piece, score], …]), relative to model.json, and its SHA-256 ("sha256-<base64>"). */
  vocab: string;
  vocabIntegrity: string;
  /** A JSON list of the phrases to search, relative to model.json, and its SHA-256 ("sha256-<base64>"). */
  phrases: string;
  phrasesIntegrity: string;
}

export const MANIFEST_FILE = 'model.json';

/** A manifest read from the network: the fields the page relies on, checked, so a bad build says so on screen. */
export function parseManifest(json: unknown, url: string): KioskManifest {
  const m = json as Partial<KioskManifest>;
  const ok =
    typeof m?.model === 'string' &&
    typeof m.integrity === 'string' &&
    Number.isInteger(m.tiers) &&
    Array.isArray(m.tierBytes) &&
    Array.isArray(m.labels) &&
    typeof m.input?.size === 'number' &&
    Array.isArray(m.input.mean) &&
    Array.isArray(m.input.std);
  if (!ok) throw new Error(`${url} is not a kiosk model manifest (model, integrity, tiers, tierBytes, labels, input)`);
  const s = m.search;
  if (s !== undefined) {
    const strings = [s?.model, s?.integrity, s?.vocab, s?.vocabIntegrity, s?.phrases, s?.phrasesIntegrity];
    if (!strings.every((v) => typeof v === 'string') || !Number.isInteger(s.tiers) || !Number.isInteger(s.modelTiers)) {
      throw new Error(`${url} has a search section without model, integrity, tiers, modelTiers, vocab, vocabIntegrity, phrases, phrasesIntegrity`);
    }
  }
  return m as KioskManifest;
}
