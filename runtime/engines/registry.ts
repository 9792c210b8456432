import { LoadOptionError } from '../errors.js';
import { canonicalEngineId, type Engine, type EngineId } from './engine.js';

/**
 * One typed registry of engines (after tfjs-core's kernel registry): registering an id twice or asking
 * for an id nobody registered is a loud error, never a silent fallback.
 */
export class EngineRegistry {
  private readonly engines = new Map<EngineId, Engine>();

  register(engine: Engine): this {
    if (this.engines.has(engine.id)) throw new Error(`engine ${engine.id} is registered twice`);
    this.engines.set(engine.id, engine);
    return this;
  }

  get(name: string): Engine {
    const id = canonicalEngineId(name);
    const engine = this.engines.get(id as EngineId);
    if (!engine) {
      throw new LoadOptionError(`unknown engine "${id}"; this runtime has: ${[...this.engines.keys()].join(', ')}`, 'unknown-engine');
    }
    return engine;
  }

  ids(): EngineId[] {
    return [...this.engines.keys()];
  }
}
