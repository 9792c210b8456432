import type { ModelHeader, ValueInfo } from '../formats/model.js';
import { HEADER_PREFIX_BYTES } from '../formats/framing.js';
import { headerLength, readHeader, verifyRefitSection, verifySections } from '../formats/read.js';
import { EngineUnavailableError, LoadOptionError } from './errors.js';
import { chooseTiers, type TierOptions } from './choose.js';
import type { EngineId, EngineSession } from './engines/engine.js';
import type { EngineRegistry } from './engines/registry.js';
import { decodeRefits } from './factors.js';
import { buildOnnxModel } from './onnx/build-model.js';
import type { ByteSource } from './source/source.js';
import type { Feeds, HostTensor } from './tensor.js';

/** An engine in the priority order could not run the model, and the next one is tried. */
export interface FallbackEvent {
  engine: EngineId;
  reason: string;
  next: EngineId | undefined;
}

/** Engine plus one of `tiers` (a count), `tier` (an index) or `preset` (default: all tiers). */
export interface LoadOptions extends TierOptions {
  /** Engine id: only this engine is tried. Default: the entry point's priority order (or LOWRANK_ENGINE). */
  engine?: EngineId;
  /** Use the tier's refitted factors when the file has them (default true); false loads the plain prefix. */
  refit?: boolean;
  /** Called whenever an engine is skipped, so an app can show why it runs on a slower one. */
  onFallback?: (event: FallbackEvent) => void;
}

/** A loaded model at one choice of ranks on one engine. */
export class LrmSession {
  private constructor(
    readonly header: ModelHeader,
    /** Number of tiers loaded. */
    readonly tiers: number,
    /** Rank of each factored layer (header.layers order). */
    readonly ranks: readonly number[],
    readonly engine: EngineId,
    /** Bytes read from the source: header plus the loaded tiers. */
    readonly bytesLoaded: number,
    private readonly session: EngineSession,
    /** Engines tried before this one, and why each could not run the model. */
    readonly fallbacks: readonly FallbackEvent[],
  ) {}

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
    // A file compiled with --refit has, per tier, a left factor and bias fitted for exactly that tier.
    const refit = options.refit !== false ? last.refit : undefined;
    const refitBytes = refit ? await source.read(payloadStart + refit.range.offset, refit.range.length) : undefined;
    if (refitBytes) await verifyRefitSection(refitBytes, header, last.index, { fileName: source.name });
    const refits = refitBytes && decodeRefits(header, last.index, refitBytes);
    const onnxModel = buildOnnxModel(header, bytes.subarray(payloadStart), ranks, { refits });
    if (engines.length === 0) throw new LoadOptionError('the engine priority list is empty', 'no-engine');
    const fallbacks: FallbackEvent[] = [];
    for (const [i, engine] of engines.entries()) {
      try {
        const session = await engine.create(onnxModel);
        return new LrmSession(header, choice.tiers, ranks, engine.id, end + (refitBytes?.length ?? 0), session, fallbacks);
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
    return this.session.run(feeds);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
