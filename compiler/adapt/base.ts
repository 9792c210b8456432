import { adapterBaseOf } from '../../formats/adapter-base.js';
import { readLrm } from '../../formats/read.js';
import type { ModelHeader } from '../../formats/model.js';
import type { AdapterBase } from '../../formats/adapter-model.js';
import { CompileOptionError } from '../errors.js';

/** A base .lrm read whole and verified (every section's checksum), as the adapter trainer and merger use it. */
export interface AdapterBaseFile {
  bytes: Uint8Array;
  header: ModelHeader;
  payloadStart: number;
  payload: Uint8Array;
  fileName: string;
  /** What an adapter trained on it records (AdapterModel.base). */
  identity: AdapterBase;
}

export async function openAdapterBase(bytes: Uint8Array, fileName = 'model.lrm'): Promise<AdapterBaseFile> {
  const { header, payloadStart, payload } = await readLrm(bytes, { fileName });
  return { bytes, header, payloadStart, payload, fileName, identity: adapterBaseOf(bytes, fileName) };
}

/** Tier index (as `inspect` numbers them) checked against the file. */
export function checkTier(header: ModelHeader, tier: number, what: string): number {
  if (!Number.isInteger(tier) || tier < 0 || tier >= header.tiers.length) {
    throw new CompileOptionError(`${what}: tier ${tier} does not exist (the base has tiers 0–${header.tiers.length - 1})`, 'adapter-tier');
  }
  return tier;
}
