import type { ModelHeader, ValueInfo } from '../formats/model.js';
import { HEADER_PREFIX_BYTES } from '../formats/framing.js';
import { headerLength, readHeader, verifySections } from '../formats/read.js';
import { EngineDeviceLostError, EngineUnavailableError, LoadOptionError } from './errors.js';
import { chooseTiers, type TierOptions } from './choose.js';
import type { Engine, EngineContext, EngineId, EngineSession, EngineWarning } from './engines/engine.js';
import type { EngineRegistry } from './engines/registry.js';
import { buildOnnxModel } from './onnx/build-model.js';
import type { ByteSource } from './source/source.js';
import type { Feeds, HostTensor } from './tensor.js';

/** An engine in the priority order could not run the model (at load, or its GPU device was lost during a run), and the next one is tried. */
export interface FallbackEvent {
  engine: EngineId;
  reason: string;
  next: EngineId | undefined;
}

/** Engine plus one of `tiers` (a count), `tier` (an index) or `preset` (default: all tiers). */
export interface LoadOptions extends TierOptions {
  /** Engine id: only this engine is tried. Default: the entry point's priority order (or LOWRANK_ENGINE). */
  engine?: EngineId;
  /** Called whenever an engine is skipped, so an app can show why it runs on a slower one. */
  onFallback?: (event: FallbackEvent) => void;
  /** Called when an engine runs, but not at its best (e.g. WASM on one thread: the page is not cross-origin isolated). */
  onWarning?: (warning: EngineWarning) => void;
}

/** What a session keeps to move a run to the next engine when its GPU device is lost. */
interface EngineFallback {
  /** The engines after the current one in the priority order. */
  rest: Engine[];
  onnxModel: Uint8Array;
  context: EngineContext;
  onFallback?: (event: FallbackEvent) => void;
}

/** A loaded model at one choice of ranks on one engine. */
export class LrmSession {
  /** Set while a run moves the session to the next engine, so concurrent runs wait for one switch. */
  private switching: Promise<void> | undefined;

  private constructor(
    readonly header: ModelHeader,
    /** Number of tiers loaded. */
    readonly tiers: number,
    /** Rank of each factored layer (header.layers order). */
    readonly ranks: readonly number[],
    private engineId: EngineId,
    /** Bytes read from the source: header plus the loaded tiers. */
    readonly bytesLoaded: number,
    private session: EngineSession,
    private readonly fallbackEvents: FallbackEvent[],
    /** Warnings the engines reported while building (also passed to onWarning). */
    readonly warnings: readonly EngineWarning[],
    private readonly fallback: EngineFallback | undefined,
  ) {}

  /** The engine running the model now (it changes only when a GPU device is lost and a run moves on). */
  get engine(): EngineId {
    return this.engineId;
  }

  /** Engines tried before the current one, and why each could not run the model. */
  get fallbacks(): readonly FallbackEvent[] {
    return this.fallbackEvents;
  }

  /** Read, verify and build the model, then start it on the first engine of `priority` that can run it. */
  static async open(source: ByteSource, registry: EngineRegistry, priority: readonly EngineId[], options: LoadOptions = {}): Promise<LrmSession> {
    const engines = priority.map((id) => registry.get(id));
    const size = await source.size();
    const prefix = await source.read(0, Math.min(HEADER_PREFIX_BYTES, size ?? HEADER_PREFIX_BYTES));
    const headerBytes = await source.read(0, headerLength(prefix));
    const { header, payloadStart } = await readHeader(headerBytes, { fileName: source.name, totalLength: size });
    const choice = chooseTiers(header, options);
    const last = header.tiers[choice.tiers - 1];
    const end = payloadStart + last.range.offset + last.range.length;
    // The header is already here: fetch only the rest of the prefix (one more range request).
    const bytes = new Uint8Array(end);
    bytes.set(headerBytes);
    if (end > headerBytes.length) bytes.set(await source.read(headerBytes.length, end - headerBytes.length), headerBytes.length);
    await verifySections(bytes, header, payloadStart, choice.tiers);
    const ranks = last.ranks;
    const onnxModel = buildOnnxModel(header, bytes.subarray(payloadStart), ranks);
    if (engines.length === 0) throw new LoadOptionError('the engine priority list is empty', 'no-engine');
    const fallbacks: FallbackEvent[] = [];
    const warnings: EngineWarning[] = [];
    const context: EngineContext = {
      onWarning: (w) => {
        warnings.push(w);
        options.onWarning?.(w);
      },
    };
    for (const [i, engine] of engines.entries()) {
      try {
        const session = await engine.create(onnxModel, context);
        // The ONNX bytes are kept only while there is an engine left to rebuild on after a device loss.
        const rest = engines.slice(i + 1);
        const fallback = rest.length > 0 ? { rest, onnxModel, context, onFallback: options.onFallback } : undefined;
        return new LrmSession(header, choice.tiers, ranks, engine.id, end, session, fallbacks, warnings, fallback);
      } catch (e) {
        // Only "cannot run here" moves on; a model an engine rejects for its own reasons is the caller's to see.
        if (!(e instanceof EngineUnavailableError) || engines.length === 1) throw e;
        const event = { engine: engine.id, reason: e.message, next: engines[i + 1]?.id };
        fallbacks.push(event);
        if (event.next) options.onFallback?.(event);
      }
    }
    const tried = fallbacks.map((f) => `${f.engine}: ${f.reason}`).join('; ');
    throw new EngineUnavailableError(engines.map((x) => x.id).join(', '), `no engine in the priority order could run the model (${tried})`);
  }

  get inputs(): ValueInfo[] {
    return this.header.graph.inputs;
  }

  get outputs(): ValueInfo[] {
    return this.header.graph.outputs;
  }

  /** Run once. Every graph input must be given; outputs are returned by name. */
  async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
    const missing = this.header.graph.inputs.map((i) => i.name).filter((n) => !(n in feeds));
    if (missing.length > 0) {
      throw new LoadOptionError(`missing model input(s): ${missing.join(', ')} (the model takes ${this.header.graph.inputs.map((i) => i.name).join(', ')})`, 'missing-input');
    }
    const session = this.session;
    try {
      return await session.run(feeds);
    } catch (e) {
      if (!(e instanceof EngineDeviceLostError) || !this.fallback) throw e;
      // Nothing is lost: the same run is repeated on the next engine in the priority order.
      if (this.session === session) {
        this.switching ??= this.moveToNextEngine(e).finally(() => {
          this.switching = undefined;
        });
      }
      await this.switching;
      return this.run(feeds);
    }
  }

  /** Builds the next engine that can run here, reports the move, and releases the lost one. */
  private async moveToNextEngine(lost: EngineDeviceLostError): Promise<void> {
    const fallback = this.fallback!;
    let [from, reason]: [EngineId, string] = [this.engineId, lost.message];
    while (fallback.rest.length > 0) {
      const next = fallback.rest.shift()!;
      const event = { engine: from, reason, next: next.id };
      this.fallbackEvents.push(event);
      fallback.onFallback?.(event);
      try {
        const session = await next.create(fallback.onnxModel, fallback.context);
        const old = this.session;
        [this.session, this.engineId] = [session, next.id];
        // Its device is gone: release is best effort, and not awaited (it may never settle on a lost device).
        void old.release().catch(() => {});
        return;
      } catch (e) {
        if (!(e instanceof EngineUnavailableError)) throw e;
        [from, reason] = [next.id, e.message];
      }
    }
    throw lost;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
