/** Spawning the built CLI (`node bin/lowrank.js`) from tests. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');
export const DATA = join(ROOT, '../shared/data');
export const MODELS = join(DATA, 'models');
export const MNIST_CNN = join(MODELS, 'mnist-cnn-pytorch.onnx');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): CliResult {
  // No LOWRANK_DEBUG: it adds stack traces to errors on purpose.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.LOWRANK_DEBUG;
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/lowrank.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI and fails with its stderr when it does not exit 0. */
export function cliOk(...args: string[]): CliResult {
  const r = cli(...args);
  if (r.status !== 0) throw new Error(`lowrank ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r;
}

/** Runs the CLI and parses its stdout as exactly one JSON object. */
export function cliJson<T = any>(...args: string[]): T {
  const out = cliOk(...args).stdout.trim();
  return JSON.parse(out) as T;
}
