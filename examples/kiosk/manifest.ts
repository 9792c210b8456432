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
  return m as KioskManifest;
}
