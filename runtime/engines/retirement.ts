import type { EngineSession } from './engine.js';

/**
 * Engine sessions being released once the runs started on them have settled (an upgrade, an adapter session
 * rebuilt): a run already on its way finishes where it started, and release() waits for all of them.
 */
export class Retirement {
  private readonly pending = new Set<Promise<void>>();

  retire(session: EngineSession, running: ReadonlySet<Promise<unknown>>): void {
    const done = Promise.allSettled([...running])
      .then(() => session.release())
      .catch(() => undefined)
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves when every session retired so far is released. */
  settled(): Promise<unknown> {
    return Promise.all([...this.pending]);
  }
}
