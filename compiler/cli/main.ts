import { Command, CommanderError } from 'commander';
import { COMPILER_VERSION } from '../version.js';
import { registerCompile } from './compile.js';
import { registerDevices } from './devices.js';
import { registerEval } from './eval.js';
import { registerExport } from './export.js';
import { registerInspect } from './inspect.js';
import { registerRun } from './run.js';
import { registerTune } from './tune.js';

const program = new Command('lowrank')
  .description('compile ONNX models into nested low-rank .lrm files, inspect, run and evaluate them')
  .version(COMPILER_VERSION)
  .showHelpAfterError()
  .exitOverride();

registerCompile(program);
registerInspect(program);
registerRun(program);
registerEval(program);
registerExport(program);
registerDevices(program);
registerTune(program);

/** Any failure ends as one line on stderr and exit code 1: no stack traces for users. */
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode);
  }
  const err = e as Error;
  console.error(`lowrank: error: ${String(err?.message ?? err).split('\n')[0]}`);
  if (process.env.LOWRANK_DEBUG) console.error(err?.stack);
  process.exit(1);
}
