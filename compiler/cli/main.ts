import { Command, CommanderError } from 'commander';
import { COMPILER_VERSION } from '../version.js';
import { registerCompile } from './compile.js';
import { registerAdapt } from './adapt.js';
import { registerDevices } from './devices.js';
import { registerEval } from './eval.js';
import { registerExport } from './export.js';
import { registerInspect } from './inspect.js';
import { registerRun } from './run.js';
import { registerTune } from './tune.js';
import { quietUsageErrors, throwUsageErrors, USAGE_EXIT_CODE, UsageError } from './usage-errors.js';

const program = quietUsageErrors(
  new Command('lowrank')
    .description('compile ONNX models into nested low-rank .lrm files, inspect, run and evaluate them')
    .version(COMPILER_VERSION)
    .exitOverride(),
);

registerCompile(program);
registerInspect(program);
registerRun(program);
registerEval(program);
registerExport(program);
registerDevices(program);
registerTune(program);
registerAdapt(program);
throwUsageErrors(program);

/** Any failure ends as one line on stderr and exit code 1 (a usage mistake: 2): no stack traces for users. */
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof UsageError) {
    console.error(e.line());
    process.exit(USAGE_EXIT_CODE);
  }
  // Help and version: commander has printed them; exit with its code.
  if (e instanceof CommanderError) {
    process.exit(e.exitCode);
  }
  const err = e as Error;
  console.error(`lowrank: error: ${String(err?.message ?? err).split('\n')[0]}`);
  if (process.env.LOWRANK_DEBUG) console.error(err?.stack);
  process.exit(1);
}
