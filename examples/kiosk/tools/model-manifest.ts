/**
 * model.json for a compiled .lrm: its content-addressed name, the integrity pin, tier sizes and class names; and the
 * search panel's section (searchManifest).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HEADER_HASH_BYTES } from '../../../formats/framing.js';
import { integrityOf } from '../../../formats/integrity.js';
import { bytesToLoad, headerLength, readHeader } from '../../../formats/read.js';
import { toHex } from '../../../formats/sha256.js';
import { parseClassNames } from '../../../compiler/data/imagenet.js';
import type { KioskManifest, SearchManifest } from '../manifest.js';

export interface ManifestInput {
  lrm: Uint8Array;
  /** A synset or one-name-per-line labels file. */
  labelsFile: string;
  /** The folder the model is served from, relative to model.json. */
  modelDir: string;
  input: KioskManifest['input'];
}

export interface KioskModelFiles {
  manifest: KioskManifest;
  /** The name the model must be served under (in modelDir). */
  fileName: string;
  /** Where its payload starts: the bytes the runtime reads for the header on every load. */
  headerBytes: number;
}

export async function kioskManifest({ lrm, labelsFile, modelDir, input }: ManifestInput): Promise<KioskModelFiles> {
  const end = headerLength(lrm);
  const hash = lrm.subarray(end - HEADER_HASH_BYTES, end);
  const { header, payloadStart } = await readHeader(lrm, { totalLength: lrm.length });
  // Content-addressed: a new model gets a new URL, so hosts, CDNs and the service worker can cache it forever.
  const fileName = `mobilenet_v1_075_224.${toHex(hash).slice(0, 16)}.lrm`;
  const tiers = header.tiers.length;
  const manifest: KioskManifest = {
    model: `${modelDir}/${fileName}`,
    integrity: integrityOf(hash),
    tiers,
    tierBytes: Array.from({ length: tiers }, (_, i) => bytesToLoad(header, payloadStart, i + 1)),
    labels: parseClassNames(readFileSync(labelsFile, 'utf8'), labelsFile),
    input,
  };
  return { manifest, fileName, headerBytes: payloadStart };
}

export interface SearchInput {
  lrm: Uint8Array;
  vocab: Uint8Array;
  phrases: Uint8Array;
  /** The folder the files are served from, relative to model.json. */
  modelDir: string;
  /** Tiers the page loads (default: all). */
  tiers?: number;
}

export interface SearchFiles {
  search: SearchManifest;
  /** Names in modelDir → their bytes. */
  files: Record<string, Uint8Array>;
  /** The .lrm's path (as in search.model) and its payload start, for the service worker's header reads. */
  headerBytes: number;
}

/** The search section of model.json: every file content-addressed and pinned (see SearchManifest). */
export async function searchManifest({ lrm, vocab, phrases, modelDir, tiers }: SearchInput): Promise<SearchFiles> {
  const end = headerLength(lrm);
  const hash = lrm.subarray(end - HEADER_HASH_BYTES, end);
  const { header, payloadStart } = await readHeader(lrm, { totalLength: lrm.length });
  const modelTiers = header.tiers.length;
  const load = tiers ?? modelTiers;
  if (!Number.isInteger(load) || load < 1 || load > modelTiers) throw new Error(`the search model has ${modelTiers} tiers; cannot load ${load}`);
  const lrmName = `use_lite.${toHex(hash).slice(0, 16)}.lrm`;
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();
  const vocabName = `vocab.${sha(vocab).toString('hex').slice(0, 16)}.json`;
  const phrasesName = `phrases.${sha(phrases).toString('hex').slice(0, 16)}.json`;
  const search: SearchManifest = {
    model: `${modelDir}/${lrmName}`,
    integrity: integrityOf(hash),
    tiers: load,
    modelTiers,
    bytes: bytesToLoad(header, payloadStart, load),
    vocab: `${modelDir}/${vocabName}`,
    vocabIntegrity: `sha256-${sha(vocab).toString('base64')}`,
    phrases: `${modelDir}/${phrasesName}`,
    phrasesIntegrity: `sha256-${sha(phrases).toString('base64')}`,
  };
  return { search, files: { [lrmName]: lrm, [vocabName]: vocab, [phrasesName]: phrases }, headerBytes: payloadStart };
}
