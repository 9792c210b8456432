/**
 * `lowrank inspect <file.lra>`: verify an adapter file (every check readAdapter makes) and describe it: kind, dtype,
 * the base model it was trained for, and per layer the target, shape, rank, alpha and stored bytes.
 */
import type { AdapterHeader } from '../../formats/adapter-header.js';
import { ADAPTER_ELEMENT_BYTES, adapterLayerBytes } from '../../formats/adapter-header.js';
import { readAdapter, readAdapterHeader } from '../../formats/adapter-read.js';
import { formatBytes, formatCount, table } from './format.js';

/** What `inspect --json` prints for an adapter. */
export function describeAdapter(header: AdapterHeader, fileBytes: number) {
  return {
    fileType: 'adapter' as const,
    formatVersion: header.formatVersion,
    compilerVersion: header.compilerVersion,
    kind: header.kind,
    dtype: header.dtype,
    /** The base .lrm it applies to: its header SHA-256 (hex) and its file name when the adapter was made. */
    base: header.base,
    fileBytes,
    /** Factor values over all layers. */
    params: header.layers.reduce((sum, l) => sum + adapterLayerBytes(l), 0) / ADAPTER_ELEMENT_BYTES[header.dtype],
    layers: header.layers.map((l) => ({
      target: l.target,
      rows: l.rows,
      cols: l.cols,
      rank: l.rank,
      alpha: l.alpha,
      kron: l.kron ?? null,
      /** Stored factor bytes, without alignment padding. */
      bytes: adapterLayerBytes(l),
    })),
    notes: header.notes,
  };
}

/** Reads, verifies and prints one .lra file (`bytes`), as text or as one JSON object. */
export async function inspectAdapter(path: string, bytes: Uint8Array, json: boolean): Promise<void> {
  await readAdapter(bytes, { fileName: path }); // the payload's SHA-256 and every factor, not only the header
  const { header } = await readAdapterHeader(bytes, { fileName: path });
  const d = describeAdapter(header, bytes.length);
  if (json) {
    console.log(JSON.stringify(d, null, 2));
    return;
  }
  const by = d.compilerVersion ? `, ${d.compilerVersion}` : '';
  console.log(`${path}: ${formatBytes(d.fileBytes)}, adapter format v${d.formatVersion}${by}, ${d.kind}, factors ${d.dtype}, ${formatCount(d.params)} parameters`);
  console.log(`base: ${d.base.fileName || '(unnamed)'} (header sha256 ${d.base.headerSha256.slice(0, 16)}…): apply it to that model only\n`);
  const lokr = d.kind === 'lokr';
  console.log(
    table([
      ['target', 'rows×cols', 'rank', 'alpha', ...(lokr ? ['kron'] : []), 'bytes'],
      ...d.layers.map((l) => [l.target, `${l.rows}×${l.cols}`, l.rank, l.alpha, ...(lokr ? [`${l.kron![0]}×${l.kron![1]}`] : []), formatBytes(l.bytes)]),
    ]),
  );
  if (d.notes.length) console.log(`\nnotes:\n${d.notes.map((n) => `  ${n}`).join('\n')}`);
}
