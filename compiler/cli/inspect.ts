import type { Command } from 'commander';
import { bytesToLoad, readLrm } from '../../formats/read.js';
import type { ModelHeader } from '../../formats/model.js';
import { formatBytes, formatCount, table } from './format.js';
import { readInputBytes } from './read-input.js';

/** What `inspect --json` prints: the layers, and per tier the ranks, parameters and bytes. */
export function describeModel(header: ModelHeader, fileBytes: number) {
  const payloadStart = fileBytes - header.payloadLength;
  return {
    source: header.source,
    compilerVersion: header.compilerVersion,
    formatVersion: header.formatVersion,
    factorDType: header.factorDType,
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
    })),
    tiers: header.tiers.map((t) => ({
      tier: t.index,
      budget: t.budget,
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
    .description('verify an .lrm file and show its layers, ranks per tier, parameters and bytes')
    .argument('<model.lrm>')
    .option('--json', 'print one JSON object')
    .action(async (path: string, opts: { json?: boolean }) => {
      const bytes = await readInputBytes(path);
      const { header } = await readLrm(bytes, { fileName: path });
      const d = describeModel(header, bytes.length);
      if (opts.json) {
        console.log(JSON.stringify(d, null, 2));
        return;
      }
      console.log(`${path}: ${formatBytes(d.fileBytes)}, format v${d.formatVersion}, ${d.compilerVersion}, factors ${d.factorDType}`);
      console.log(`source: ${d.source.fileName} (${formatBytes(d.source.bytes)}, sha256 ${d.source.sha256.slice(0, 16)}…)`);
      console.log(`inputs: ${d.inputs.map((v) => `${v.name}[${v.shape.join(',')}]`).join(' ')}  outputs: ${d.outputs.map((v) => `${v.name}[${v.shape.join(',')}]`).join(' ')}\n`);
      console.log(
        table([
          ['layer', 'kind', 'weight', 'm×n', ...d.tiers.map((t) => `r@t${t.tier}`)],
          // "dense": from this tier on the file holds the layer's dense weight and the device reads no factors of it.
          ...d.layers.map((l) => [l.name, l.kind, `[${l.weightDims.join(',')}]`, `${l.rows}×${l.cols}`, ...l.rankPerTier.map((r, t) => (l.denseTier !== null && t >= l.denseTier ? 'dense' : r))]),
        ]),
      );
      console.log();
      // Files compiled with --refit also carry, per tier, a refit section read with that tier only.
      const refit = d.tiers.some((t) => t.refitBytes > 0);
      console.log(
        table([
          ['tier', 'budget', 'params', 'tier bytes', ...(refit ? ['refit bytes'] : []), 'bytes to load'],
          ...d.tiers.map((t) => [t.tier, t.budget, formatCount(t.params), formatBytes(t.tierBytes), ...(refit ? [formatBytes(t.refitBytes)] : []), formatBytes(t.bytesToLoad)]),
        ]),
      );
      console.log(`\npresets: ${d.presets.map((p) => `${p.name} (${p.tiers} tier${p.tiers > 1 ? 's' : ''})`).join(', ')}`);
    });
}
