import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseTierBudgets } from '../allocate.js';
import { compileOnnx } from '../compile.js';
import { CompileOptionError } from '../errors.js';
import type { FactorDType } from '../../formats/model.js';
import { formatBytes, formatCount, table } from './format.js';
import { ProgressBar } from './progress.js';
import { readInputBytes } from './read-input.js';
import { writeAtomically } from './write-output.js';

/** Ops of already-quantised models: they stay untouched, and we say so. */
const QUANTISED_OPS = new Set(['QLinearConv', 'QLinearMatMul', 'MatMulInteger', 'ConvInteger', 'QuantizeLinear', 'DequantizeLinear', 'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearConcat']);

export function registerCompile(program: Command): void {
  program
    .command('compile')
    .description('factorise an ONNX model into a nested low-rank .lrm file')
    .argument('<model.onnx>', 'trained model to compile')
    .requiredOption('-o, --output <model.lrm>', 'where to write the .lrm file')
    .option('--tiers <fractions>', 'cumulative tier budgets, fractions of the factorable layers\' dense parameters', '0.1,0.2,0.35,0.5,1')
    .option('--dtype <fp32|fp16>', 'storage type of the factors', 'fp32')
    .option('--min-params <n>', 'layers with fewer weights stay dense', '4096')
    .action(async (input: string, opts: { output: string; tiers: string; dtype: string; minParams: string }) => {
      const tiers = parseTierBudgets(opts.tiers);
      const minParams = Number(opts.minParams);
      if (!Number.isInteger(minParams) || minParams < 1) throw new CompileOptionError(`--min-params must be a positive whole number, got "${opts.minParams}"`, 'min-params');
      const source = await readInputBytes(input);
      const bar = new ProgressBar();
      const started = performance.now();
      const { lrm, header } = await compileOnnx(source, {
        tiers,
        dtype: opts.dtype as FactorDType,
        minParams,
        fileName: input,
        onProgress: (p) => bar.update(p.phase, p.done, p.total, p.detail),
      });
      bar.stop();
      // Write next to the target and rename, so an interrupted compile never leaves a half-written .lrm.
      await writeAtomically(opts.output, lrm);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const size = (await stat(opts.output)).size;
      console.log(`compiled ${input} (${formatBytes(source.length)}) → ${opts.output} (${formatBytes(size)}) in ${seconds} s`);
      console.log(`${header.layers.length} factored layer(s), ${header.tiers.length} tier(s), factors ${header.factorDType}`);
      const quantised = header.graph.nodes.filter((n) => QUANTISED_OPS.has(n.opType)).length;
      if (header.layers.length === 0) {
        console.log(`note: no layer could be factored: only MatMul, Gemm and group-1 Conv nodes with float32 constant weights of at least ${minParams} values qualify${quantised ? `; the ${quantised} quantised node(s) are kept as they are` : ''}`);
      } else if (quantised > 0) {
        console.log(`note: ${quantised} quantised node(s) are kept as they are`);
      }
      const payloadStart = size - header.payloadLength;
      console.log(
        table([
          ['tier', 'budget', 'params', 'bytes to load'],
          ...header.tiers.map((t) => [t.index, t.budget, formatCount(t.params), formatBytes(payloadStart + t.range.offset + t.range.length)]),
        ]),
      );
    });
}

