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

/** A run() input that does not fit the model (runtime/check-feeds.ts): its name, and expected vs got. */
export class RunInputError extends LoadOptionError {
  constructor(message: string) {
    super(message, 'bad-input');
  }
}

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

/**
 * A download stopped before the server sent everything it announced (connection dropped, server
 * restarted). Nothing received is used; loading again fetches it again.
 */
export class IncompleteDownloadError extends SourceError {
  constructor(
    readonly url: string,
    readonly received: number,
    readonly expected: number | undefined,
    reason: string,
    /** The bytes that did arrive (from the start of what was asked for), so a retry can resume after them. */
    readonly partial?: Uint8Array,
  ) {
    const of = expected === undefined ? '' : ` of ${expected}`;
    super(`download of ${url} stopped after ${received}${of} bytes (${reason}); check the network and load again`, 'incomplete-download');
  }
}

/** A request sent nothing for `timeoutMs` (`load`/`upgrade` option): a stalled server or network. */
export class SourceTimeoutError extends SourceError {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
    readonly received: number,
  ) {
    super(`${url} sent nothing for ${timeoutMs} ms (${received} bytes of this request had arrived); check the network or the server, or raise timeoutMs`, 'timeout');
  }
}

/** The app cancelled a load or upgrade through its AbortSignal; what was loaded before keeps running. */
export class LoadAbortedError extends RuntimeError {
  constructor(readonly source: string) {
    super(`loading ${source} was cancelled`, 'aborted');
  }
}

/** Throws LoadAbortedError when the signal has fired: between reads of sources that cannot be interrupted. */
export function throwIfAborted(signal: AbortSignal | undefined, source: string): void {
  if (signal?.aborted) throw new LoadAbortedError(source);
}

/** What a budget allows: a preset or a tier count, and what it is estimated (or measured) to need. */
export interface BudgetFit {
  preset?: string;
  tiers: number;
  memoryMb: number;
  latencyMsP50?: number;
}

/**
 * The asked-for preset or tier count does not fit the memory or latency budget (or, for 'auto', none does).
 * Raised before anything is fetched or allocated; `fits` lists what would fit, largest first.
 */
export class BudgetError extends RuntimeError {
  constructor(
    message: string,
    readonly fits: readonly BudgetFit[],
  ) {
    super(message, 'over-budget');
  }
}

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

/** A tokenizer vocabulary that is not a list of [piece, score] pairs (or is too short to hold its reserved ids). */
export class VocabularyError extends RuntimeError {
  constructor(message: string) {
    super(message, 'bad-vocabulary');
  }
}

/** Text the model cannot embed: not a string, or nothing left to embed (empty text gives no tokens). */
export class TextInputError extends RuntimeError {
  constructor(message: string) {
    super(message, 'bad-text');
  }
}

/** Why an adapter was refused (runtime/adapters/): stable for apps to match. */
export type AdapterErrorCode =
  | 'wrong-base'
  | 'unknown-target'
  | 'duplicate-target'
  | 'shape'
  | 'rank'
  | 'kind'
  | 'non-finite'
  | 'unknown-adapter'
  | 'duplicate-name';

/**
 * An adapter that cannot be applied to this session's model (made for another base, a weight the model does not
 * have, factors of the wrong shape, an unknown kind), or a run/unload naming an adapter that is not loaded. Raised
 * before anything is built: the session keeps serving its base and the adapters it already has.
 */
export class AdapterError extends RuntimeError {
  constructor(
    message: string,
    override readonly code: AdapterErrorCode,
    /** The adapter's name as the app gave it. */
    readonly adapter: string,
  ) {
    super(message, code);
  }
}
