import { LoadOptionError } from '../errors.js';
import { canonicalEngineId, ENGINE_IDS, type EngineId } from './engine.js';

/** Environment variable that overrides an entry point's engine order: one id or a comma-separated list. */
export const ENGINE_ENV = 'LOWRANK_ENGINE';

/**
 * The engines to try, in order (after tinygrad's device list): an explicit `engine` option alone (no
 * fallback: the caller asked for it), else the LOWRANK_ENGINE list, else the entry point's default order.
 */
export function enginePriority(defaults: readonly EngineId[], requested?: string, env: string | undefined = readEnv()): EngineId[] {
  if (requested !== undefined) return [checked(requested, 'engine option')];
  if (env !== undefined && env.trim() !== '') return env.split(',').map((s) => checked(s.trim(), ENGINE_ENV));
  return [...defaults];
}

function checked(name: string, where: string): EngineId {
  const id = canonicalEngineId(name);
  if (!(ENGINE_IDS as readonly string[]).includes(id)) {
    throw new LoadOptionError(`unknown engine "${id}" in ${where}; known engines: ${ENGINE_IDS.join(', ')}`, 'unknown-engine');
  }
  return id as EngineId;
}

function readEnv(): string | undefined {
  // Browsers have no process: the override is a Node (and bundler-define) feature only.
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[ENGINE_ENV];
}
