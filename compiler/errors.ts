/** Errors the compiler raises for bad input. Messages are one line and say what to do. */
export class CompileError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is not an ONNX model we can read (bad protobuf, external data, ...). */
export class OnnxImportError extends CompileError {}

/** onnxruntime itself refuses the model, so nothing we produced from it could run either. */
export class ModelNotRunnableError extends CompileError {}

/** The source graph itself is invalid (a cycle): the model's fault, to be fixed in its export. */
export class SourceGraphError extends CompileError {}

/** Bad compile options (tier budgets, dtypes). */
export class CompileOptionError extends CompileError {}

/** `lowrank tune`: no tier of the file meets a budget on this device (the message gives the fastest tier's latency). */
export class TuneBudgetError extends CompileError {
  constructor(
    message: string,
    /** Measured p50 of the fastest tier count, ms. */
    readonly fastestMsP50: number,
  ) {
    super(message, 'tune-budget');
  }
}
