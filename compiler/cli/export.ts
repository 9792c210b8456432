import type { Command } from 'commander';
import { readLrm } from '../../formats/read.js';
import { exportFactoredOnnx } from '../export/onnx.js';
import { formatBytes } from './format.js';
import { parseWholeNumber } from './options.js';
import { readInputBytes } from './read-input.js';
import { writeAtomically } from './write-output.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write an .lrm at one tier as ONNX, every factored layer as two nodes with its factors as initializers (for fine-tuning)')
    .argument('<model.lrm>')
    .requiredOption('-o, --output <factored.onnx>', 'where to write the ONNX model')
    .option('--tier <K>', 'export tier K as `inspect` numbers them (default: the last)')
    .action(async (path: string, opts: { output: string; tier?: string }) => {
      const tier = opts.tier === undefined ? undefined : parseWholeNumber('--tier', opts.tier, 0);
      const { header, payload } = await readLrm(await readInputBytes(path), { fileName: path });
      const result = exportFactoredOnnx(header, payload, { tier });
      await writeAtomically(opts.output, result.onnx);
      console.log(`exported ${path} tier ${result.tier} → ${opts.output} (${formatBytes(result.onnx.length)}): ${header.layers.length} factored layer(s) as two nodes each, ranks ${result.ranks.join(',') || '-'}`);
    });
}
