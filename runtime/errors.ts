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

/**
 * The engine runs here, but not this model: its graph uses ops (or op variants) the engine does not implement.
 * Unlike EngineUnavailableError this is about the model, so another model may well run on the same engine.
 */
export class EngineUnsupportedModelError extends RuntimeError {
  constructor(
    readonly engine: string,
    /** Op types the engine has no kernel for (domain-qualified outside the default ONNX domain), sorted. */
    readonly missingOps: readonly string[],
    /** Nodes whose op exists but whose attributes the engine cannot honour, one line each. */
    readonly unsupportedNodes: readonly string[],
  ) {
    const parts = [
      missingOps.length > 0 ? `missing ops ${missingOps.join(', ')}` : '',
      unsupportedNodes.length > 0 ? `unsupported nodes: ${unsupportedNodes.slice(0, 5).join('; ')}${unsupportedNodes.length > 5 ? `; and ${unsupportedNodes.length - 5} more` : ''}` : '',
    ].filter(Boolean);
    super(`engine ${engine} cannot run this model (${parts.join('; ')}); run it with ort-node-cpu or ort-wasm`, 'engine-unsupported-model');
  }
}
