import { EngineUnavailableError } from '../errors.js';
import type { Engine, EngineId } from './engine.js';

/**
 * An engine that cannot run here, with the same API as a real one (after candle's stub backends): it can be
 * registered, listed and asked for, and its `create` throws EngineUnavailableError saying why.
 */
export function unavailableEngine(id: EngineId, description: string, reason: string): Engine {
  return {
    id,
    description,
    async create() {
      throw new EngineUnavailableError(id, reason);
    },
  };
}

/** Engines planned but not built into this version of the runtime. */
export function plannedEngines(ids: EngineId[]): Engine[] {
  return ids.map((id) => unavailableEngine(id, `${id} (not in this version)`, `this version of lowrank-edge does not include the ${id} engine yet; use ort-node-cpu or ort-wasm`));
}
