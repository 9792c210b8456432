/** Errors the runtime raises. Each message is one line that says what to do. */
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An engine cannot run here (package missing, no GPU, ...). Same API everywhere, thrown on use. */
export class EngineUnavailableError extends RuntimeError {
  constructor(
    readonly engine: string,
    reason: string,
  ) {
    super(`engine ${engine} is not available here: ${reason}`, 'engine-unavailable');
  }
}

/** Bad load or run options: an unknown preset, a tier count out of range, a missing input. */
export class LoadOptionError extends RuntimeError {}

/** The engine failed while building or running the model. */
export class EngineRunError extends RuntimeError {}

/**
 * The GPU device went away during a run (driver reset, tab backgrounded on some mobiles, device.destroy()).
 * The session retries that run on the next engine in its priority order, so apps only see it when none is left.
 */
export class EngineDeviceLostError extends EngineRunError {
  constructor(
    readonly engine: string,
    reason: string,
  ) {
    super(`engine ${engine} lost its GPU device (${reason}); load the model again, or keep a fallback engine in the priority order`, 'device-lost');
  }
}

/** Reading the model bytes failed (file missing, HTTP error, short read). */
export class SourceError extends RuntimeError {}
