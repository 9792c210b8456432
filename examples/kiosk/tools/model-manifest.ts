/** model.json for a compiled .lrm: its content-addressed name, the integrity pin, tier sizes and class names. */
import { readFileSync } from 'node:fs';
import { HEADER_HASH_BYTES } from '../../../formats/framing.js';
import { integrityOf } from '../../../formats/integrity.js';
import { bytesToLoad, headerLength, readHeader } from '../../../formats/read.js';
import { toHex } from '../../../formats/sha256.js';
import { parseClassNames } from '../../../compiler/data/imagenet.js';
import type { KioskManifest } from '../manifest.js';

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
