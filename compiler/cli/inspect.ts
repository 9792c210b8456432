import type { Command } from 'commander';
import { ADAPTER_FILE_IDENTIFIER } from '../../formats/adapter-model.js';
import { HEADER_HASH_BYTES, identifierOf } from '../../formats/framing.js';
import { integrityOf } from '../../formats/integrity.js';
import { bytesToLoad, headerLength, readLrm } from '../../formats/read.js';
import { DataType, tierBitsLabel, usesInt4, type ModelHeader } from '../../formats/model.js';
import { formatBytes, formatCount, table } from './format.js';
import { checkGraph } from '../../runtime/onnx/check-graph.js';
import { inspectAdapter } from './inspect-adapter.js';
import { payloadConstants } from '../../runtime/onnx/constant-values.js';
import { readInputBytes } from './read-input.js';

/** What `inspect --json` prints: the layers, and per tier the ranks, parameters and bytes. */
export function describeModel(header: ModelHeader, fileBytes: number, integrity: string) {
  const payloadStart = fileBytes - header.payloadLength;
  return {
    /** The value an app pins with `load(…, { integrity })`: the header's SHA-256, which covers every section's. */
    integrity,
    /** Includes `normalised`: what the compiler's import normalisation changed in the source graph (absent: nothing). */
    source: header.source,
    compilerVersion: header.compilerVersion,
    formatVersion: header.formatVersion,
    factorDType: header.factorDType,
    /** int4 files: values per scale group. */
    int4GroupSize: header.int4GroupSize ?? null,
    /** int4 files (format v7): group scales as byte codes under a half-float row scale; false: a half float each. */
    int4ScaleCodes: header.int4GroupSize === undefined ? null : header.int4ScaleCodes === true,
    /** How the weights that are not factored are stored: count per storage ('fp32' = as the model has them). */
    denseStorage: countBy(header.graph.initializers.filter((t) => t.dataType === DataType.FLOAT && t.dims.length >= 2).map((t) => t.storage ?? 'fp32')),
    fileBytes,
    inputs: header.graph.inputs,
    outputs: header.graph.outputs,
    layers: header.layers.map((l, i) => ({
      name: l.name,
      kind: l.kind,
      weightDims: l.weightDims,
      rows: l.rows,
      cols: l.cols,
      denseParams: l.rows * l.cols,
      maxRank: l.maxRank,
      rankPerTier: header.tiers.map((t) => t.ranks[i]),
      /** The tier from which the file holds this layer's dense weight (and the device reads no factors of it). */
      denseTier: l.denseTier ?? null,
      /** How that dense weight is stored: the factor dtype, or int8 where an int4 file's precision pass kept it int8. */
      denseStorage: l.dense ? (l.denseStorage ?? header.factorDType) : null,
    })),
    tiers: header.tiers.map((t) => ({
      tier: t.index,
      budget: t.budget,
      /**
       * Bits the tier runs its grouped matrices at: 8 with their low planes (format v4), 4 with int3 matrices' mid
       * planes (v6) or as stored in a file without int3, 3 as stored in a file with int3; null in other dtypes.
       */
      bits: usesInt4(header) ? tierBitsLabel(header, t) : null,
      params: t.params,
      /** The tier's own section plus its transient sections (blocks of layers that go dense later). */
      tierBytes: t.range.length + (t.transient ?? []).reduce((sum, x) => sum + x.range.length, 0),
      refitBytes: t.refit?.range.length ?? 0,
      bytesToLoad: bytesToLoad(header, payloadStart, t.index + 1),
      sha256: t.sha256,
    })),
    presets: header.presets,
  };
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('verify an .lrm file and show its layers, ranks per tier, parameters and bytes (or an .lra adapter: its base, layers and bytes)')
    .argument('<model.lrm|adapter.lra>')
    .option('--json', 'print one JSON object')
    .action(async (path: string, opts: { json?: boolean }) => {
      const bytes = await readInputBytes(path);
      if (identifierOf(bytes) === ADAPTER_FILE_IDENTIFIER) return inspectAdapter(path, bytes, opts.json ?? false);
      const { header, payload } = await readLrm(bytes, { fileName: path });
      // The whole file is here: the check sees the small constants' values too (Resize scales, Reshape shapes…).
      checkGraph(header, path, { constants: payloadConstants(header.graph.initializers, payload) });
      const headerEnd = headerLength(bytes, { fileName: path });
      const d = describeModel(header, bytes.length, integrityOf(bytes.subarray(headerEnd - HEADER_HASH_BYTES, headerEnd)));
      if (opts.json) {
        console.log(JSON.stringify(d, null, 2));
        return;
      }
      const groups = d.int4GroupSize === null ? '' : ` (int4 groups of ${d.int4GroupSize}${d.int4ScaleCodes ? ', scale codes' : ''})`;
      const dense = Object.entries(d.denseStorage).map(([k, n]) => `${n} ${k}`).join(', ');
      console.log(`${path}: ${formatBytes(d.fileBytes)}, format v${d.formatVersion}, ${d.compilerVersion}, factors ${d.factorDType}${groups}${dense ? `; weights not factored: ${dense}` : ''}`);
      console.log(`source: ${d.source.fileName} (${formatBytes(d.source.bytes)}, sha256 ${d.source.sha256.slice(0, 16)}…)`);
      console.log(`integrity: ${d.integrity} (pin it: load(…, { integrity }))`);
      if (d.source.normalised?.length) console.log(`normalised: ${d.source.normalised.join('; ')}`);
      console.log(`inputs: ${d.inputs.map((v) => `${v.name}[${v.shape.join(',')}]`).join(' ')}  outputs: ${d.outputs.map((v) => `${v.name}[${v.shape.join(',')}]`).join(' ')}\n`);
      console.log(
        table([
          ['layer', 'kind', 'weight', 'm×n', ...d.tiers.map((t) => `r@t${t.tier}`)],
          // "dense": from this tier on the file holds the layer's dense weight and the device reads no factors of it.
          // An int4 file says which dense weights are int8 or int3 ("dense int8", "dense int3"; at a 4-bit tier an
          // int3 one runs with its mid plane: "dense int3+1"; the bits column says when planes refine them all).
          ...d.layers.map((l) => [l.name, l.kind, `[${l.weightDims.join(',')}]`, `${l.rows}×${l.cols}`, ...l.rankPerTier.map((r, t) => (l.denseTier !== null && t >= l.denseTier ? denseLabel(l.denseStorage, d.factorDType, d.tiers[t]!.bits) : r))]),
        ]),
      );
      console.log();
      // Files compiled with --refit also carry, per tier, a refit section read with that tier only.
      const refit = d.tiers.some((t) => t.refitBytes > 0);
      // int4 files with int3 weights or an 8-bit tier: the ladder goes up in rank and in bits.
      const bits = new Set(d.tiers.map((t) => t.bits)).size > 1;
      console.log(
        table([
          ['tier', 'budget', ...(bits ? ['bits'] : []), 'params', 'tier bytes', ...(refit ? ['refit bytes'] : []), 'bytes to load'],
          ...d.tiers.map((t) => [t.tier, t.budget, ...(bits ? [t.bits!] : []), formatCount(t.params), formatBytes(t.tierBytes), ...(refit ? [formatBytes(t.refitBytes)] : []), formatBytes(t.bytesToLoad)]),
        ]),
      );
      console.log(`\npresets: ${d.presets.map((p) => `${p.name} (${p.tiers} tier${p.tiers > 1 ? 's' : ''})`).join(', ')}`);
    });
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** A dense layer's cell in the rank table: its storage in an int4 file (an int3 one with its mid plane at a 4-bit tier). */
function denseLabel(storage: string | null, factorDType: string, bits: number | null): string {
  if (!storage || factorDType !== 'int4') return 'dense';
  return storage === 'int3' && bits === 4 ? 'dense int3+1' : `dense ${storage}`;
}
