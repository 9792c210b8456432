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

/** Reading the model bytes failed (file missing, HTTP error, short read). */
export class SourceError extends RuntimeError {}
