import { deviceClassId } from '../devices/device-class.js';
import type { AdapterModel } from '../formats/adapter-model.js';
import { readAdapter } from '../formats/adapter-read.js';
import type { DeviceInfo } from '../devices/device-info.js';
import { detectWebDevice } from '../devices/detect-web.js';
import { HEADER_HASH_BYTES } from '../formats/framing.js';
import type { ModelHeader, ValueInfo } from '../formats/model.js';
import { checkIntegrity, integrityProblem } from '../formats/integrity.js';
import { headerLength, readHeader } from '../formats/read.js';
import { sectionBytes } from '../formats/sections.js';
import { toHex } from '../formats/sha256.js';
import { AdapterSet } from './adapters/adapter-set.js';
import type { BaseBuild } from './adapters/graph.js';
import type { ModelCache } from './cache/model-cache.js';
import { AUTO_PRESET, chooseTiers, type BudgetOptions, type RankChoice, type TierOptions } from './choose.js';
import { EngineDeviceLostError, EngineUnavailableError, EngineUnsupportedModelError, LoadOptionError, throwIfAborted } from './errors.js';
import { DEFAULT_PRECISION, type Engine, type EngineContext, type EngineId, type EngineSession, type EngineWarning, type Precision } from './engines/engine.js';
import { Retirement } from './engines/retirement.js';
import type { EngineRegistry } from './engines/registry.js';
import { engineWeightBytes, estimateMemory } from './memory-estimate.js';
import { decodeRefits, type LayerRefit } from './factors.js';
import { buildOnnxModel, tierBitsAt } from './onnx/build-model.js';
import { checkGraph } from './onnx/check-graph.js';
import { payloadConstants } from './onnx/constant-values.js';
import { checkFeeds, type NonFinitePolicy } from './check-feeds.js';
import { SectionLoader, type TransferOptions } from './section-loader.js';
import { joinBytes } from './source/read-body.js';
import type { ByteSource } from './source/source.js';
import type { Feeds, HostTensor } from './tensor.js';

/**
 * The first read: enough for the header of every model we have compiled so far (the largest, a detector, is
 * ~100 KiB: those take one more request for the rest of the header). A model whose header and tiers all fit
 * in it arrives in this one request.
 */
export const HEADER_CHUNK_BYTES = 64 * 1024;

/** An engine in the priority order could not run the model (at load, or its GPU device was lost during a run), and the next one is tried. */
export interface FallbackEvent {
  engine: EngineId;
  reason: string;
  next: EngineId | undefined;
}

/** `header`: the first request(s); `tiers`: dense section and tiers (from the cache or the source); `build`: the engine. */
export interface LoadProgress {
  phase: 'header' | 'tiers' | 'build';
  loaded: number;
  total: number;
}

/** Engine plus one of `tiers` (a count), `tier` (an index) or `preset` (default: all tiers; 'auto' picks). */
export interface LoadOptions extends TierOptions, BudgetOptions {
  /** Engine id: only this engine is tried. Default: the entry point's priority order (or LOWRANK_ENGINE). */
  engine?: EngineId;
  /** Use the tier's refitted factors when the file has them (default true); false loads the plain prefix. */
  refit?: boolean;
  /** Called whenever an engine is skipped, so an app can show why it runs on a slower one. */
  onFallback?: (event: FallbackEvent) => void;
  /** Called when an engine runs, but not at its best (e.g. WASM on one thread: the page is not cross-origin isolated). */
  onWarning?: (warning: EngineWarning) => void;
  onProgress?: (event: LoadProgress) => void;
  /** Where verified sections are kept between loads (browserCache(), directoryCache(dir), memoryCache()). */
  cache?: ModelCache;
  /** The device for preset 'auto': given, or detected (the entry point's detector, else web globals). */
  device?: DeviceInfo | (() => Promise<DeviceInfo>);
  /**
   * The file's pinned integrity, "sha256-…" as `lowrank inspect` prints it: a file whose header hash differs
   * (a substituted or re-hashed file) is refused with LrmIntegrityError after the first read, before any tier
   * is fetched or any engine runs.
   */
  integrity?: string;
  /** Cancels the load (and upgrades that do not bring their own): LoadAbortedError; nothing half-loaded is kept. */
  signal?: AbortSignal;
  /** Network sources: a request that receives nothing for this long fails with SourceTimeoutError (default: none). */
  timeoutMs?: number;
  /** Network sources: tries again after a 5xx, a refused/reset connection or a cut body, with backoff (default 2). */
  retries?: number;
  /** NaN or ±Infinity in a floating-point run() input: 'reject' (default, RunInputError) or 'allow'. */
  nonFinite?: NonFinitePolicy;
  /**
   * onnxruntime engines: hand int4 MatMul weights to onnxruntime's MatMulNBits kernel instead of float32
   * (runtime/onnx/int4-kernels.ts): about 6× less weight memory, about 1.1× the latency. Default false.
   */
  int4Kernels?: boolean;
  /**
   * The float type the engine computes in (engines/engine.ts's Precision): 'fp32' (default); 'auto': float16 on WebGPU
   * where the adapter has `shader-f16` and the graph converts (runtime/onnx/half-precision.ts), else float32; 'fp16'
   * (onnxruntime engines; refused by the others, and by a WebGPU adapter without `shader-f16`). Not the default:
   * PP-OCR det's float16 graph gives NaN (measured on the CPU provider), and nothing here can check a model first.
   */
  precision?: Precision;
}

/** Per-request options of run(). */
export interface RunOptions {
  /** Name of a loaded adapter (loadAdapter) to run with; absent: the base model. */
  adapter?: string;
}

/** What upgrade() switches to: a tier count, a preset name ('auto' included), or the same options as load(). */
export type UpgradeTarget = number | string | (TierOptions & Pick<LoadOptions, 'signal' | 'timeoutMs'> & { onProgress?: (event: LoadProgress) => void });

interface Active {
  session: EngineSession;
  tiers: number;
  ranks: readonly number[];
  choice: RankChoice;
  /** Length of the tier's refit section in use, 0 when none. */
  refitBytes: number;
  /** Runs started on this engine session and not settled yet. */
  running: Set<Promise<unknown>>;
  /** The ONNX model it runs, kept only while an engine is left to rebuild on after a GPU device loss. */
  model: Uint8Array | undefined;
  /** What that model was built from: adapter sessions are built from the same (runtime/adapters/). */
  build: BaseBuild;
}

/** A loaded model at one choice of ranks on one engine; upgrade() moves it to another choice. */
export class LrmSession {
  private active: Active;
  /** Serialises upgrade() calls, so two never build at once. */
  private switching: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Retirement();
  /** Set while a run moves the session to the next engine after a device loss, so concurrent runs wait for one move. */
  private moving: Promise<void> | undefined;
  private readonly adapterSet: AdapterSet;

  private constructor(
    readonly header: ModelHeader,
    /** The base's identity: lowercase hex SHA-256 of the file's size prefix and header (what adapters name as their base). */
    readonly headerSha256: string,
    private readonly payloadStart: number,
    private readonly loader: SectionLoader,
    private engineImpl: Engine,
    /** Engines after the current one in the priority order: where a run goes when the GPU device is lost. */
    private readonly rest: Engine[],
    private readonly context: EngineContext,
    private readonly options: LoadOptions,
    private readonly device: DeviceInfo | undefined,
    active: Active,
    private readonly fallbackEvents: FallbackEvent[],
    /** Warnings the engines reported while building (also passed to onWarning). */
    readonly warnings: readonly EngineWarning[],
  ) {
    this.active = active;
    this.adapterSet = new AdapterSet(header, { headerSha256, fileName: loader.sourceName });
  }

  /** Engines tried before the current one, and why each could not run the model. */
  get fallbacks(): readonly FallbackEvent[] {
    return this.fallbackEvents;
  }

  /** Read, verify and build the model, then start it on the first engine of `priority` that can run it. */
  static async open(source: ByteSource, registry: EngineRegistry, priority: readonly EngineId[], options: LoadOptions = {}): Promise<LrmSession> {
    const engines = priority.map((id) => registry.get(id));
    if (engines.length === 0) throw new LoadOptionError('the engine priority list is empty', 'no-engine');
    // A malformed pin is the app's mistake: said before anything is read.
    const pinProblem = options.integrity === undefined ? undefined : integrityProblem(options.integrity);
    if (pinProblem) throw new LoadOptionError(pinProblem, 'bad-integrity');
    const progress = options.onProgress;

    // One request for the header (and, for small models, everything); a second only for a header past the chunk.
    const transfer = { signal: options.signal, timeoutMs: options.timeoutMs, retries: options.retries };
    let head = await source.read(0, HEADER_CHUNK_BYTES, { ...transfer, atMost: true, onBytes: (n) => progress?.({ phase: 'header', loaded: n, total: HEADER_CHUNK_BYTES }) });
    const headerEnd = headerLength(head, { fileName: source.name });
    if (head.length < headerEnd) head = joinBytes([head, await source.read(head.length, headerEnd - head.length, transfer)]);
    progress?.({ phase: 'header', loaded: headerEnd, total: headerEnd });
    // A pinned file is checked before its header is even decoded: any other header hash is not the app's file.
    const hashBytes = head.subarray(headerEnd - HEADER_HASH_BYTES, headerEnd);
    if (options.integrity !== undefined) checkIntegrity(source.name, hashBytes, options.integrity);
    const { header, payloadStart } = await readHeader(head, { fileName: source.name, totalLength: await source.size() });
    checkGraph(header, source.name, { memoryMb: options.memoryMb });
    const headerHash = toHex(hashBytes);

    const device = options.preset === AUTO_PRESET ? await resolveDevice(options.device) : undefined;
    const choice = choose(header, payloadStart, options, engines[0].id, priority, device);
    const loader = new SectionLoader(source, header, payloadStart, head, headerHash, options.cache);
    const bytes = await loader.ensure(choice.tiers, (loaded, total) => progress?.({ phase: 'tiers', loaded, total }), transfer);
    // Again with the values of the small constants (Reshape shapes, Resize scales, Pad pads…), now loaded.
    checkGraph(header, source.name, { memoryMb: options.memoryMb, constants: payloadConstants(header.graph.initializers, bytes) });
    const ranks = header.tiers[choice.tiers - 1].ranks;
    const refit = await loadRefits(loader, header, choice.tiers, options, transfer);
    throwIfAborted(options.signal, source.name);
    const models = new Map<boolean, Uint8Array>();
    const build: BaseBuild = { payload: bytes, ranks, refits: refit?.refits, bits: tierBitsAt(header, choice.tiers) };
    /** The model an engine gets: with MatMulNBits where asked for and the engine is onnxruntime's. */
    const modelFor = (engine: Engine): Uint8Array => {
      const kernels = usesInt4Kernels(options, engine.id);
      if (!models.has(kernels)) models.set(kernels, buildOnnxModel(header, bytes, ranks, { refits: build.refits, bits: build.bits, int4Kernels: kernels }));
      return models.get(kernels)!;
    };

    progress?.({ phase: 'build', loaded: 0, total: 1 });
    const fallbacks: FallbackEvent[] = [];
    const warnings: EngineWarning[] = [];
    const context: EngineContext = {
      precision: options.precision ?? DEFAULT_PRECISION,
      onWarning: (w) => {
        warnings.push(w);
        options.onWarning?.(w);
      },
    };
    for (const [i, engine] of engines.entries()) {
      try {
        const onnxModel = modelFor(engine);
        const session = await engine.create(onnxModel, context);
        progress?.({ phase: 'build', loaded: 1, total: 1 });
        const rest = engines.slice(i + 1);
        const active = { session, tiers: choice.tiers, ranks, choice, refitBytes: refit?.bytes ?? 0, running: new Set<Promise<unknown>>(), model: rest.length > 0 ? onnxModel : undefined, build };
        return new LrmSession(header, headerHash, payloadStart, loader, engine, rest, context, options, device, active, fallbacks, warnings);
      } catch (e) {
        // "Cannot run here" and "has no kernel for this model's ops" move on; any other build error is the caller's to see.
        if (!(e instanceof EngineUnavailableError || e instanceof EngineUnsupportedModelError) || engines.length === 1) throw e;
        const event = { engine: engine.id, reason: e.message, next: engines[i + 1]?.id };
        fallbacks.push(event);
        if (event.next) options.onFallback?.(event);
      }
    }
    const tried = fallbacks.map((f) => `${f.engine}: ${f.reason}`).join('; ');
    throw new EngineUnavailableError(engines.map((x) => x.id).join(', '), `no engine in the priority order could run the model (${tried})`);
  }

  get engine(): EngineId {
    return this.engineImpl.id;
  }

  /** Number of tiers the model runs with now. */
  get tiers(): number {
    return this.active.tiers;
  }

  /** Rank of each factored layer (header.layers order) now. */
  get ranks(): readonly number[] {
    return this.active.ranks;
  }

  /** The preset (if any) and the memory estimate of the current choice. */
  get choice(): RankChoice {
    return this.active.choice;
  }

  /**
   * Bytes of the file the current choice needs: the header, the sections its tiers need (formats/sections.ts) and
   * the tier's refit section in use.
   */
  get bytesLoaded(): number {
    return this.payloadStart + sectionBytes(this.header, this.active.tiers) + this.active.refitBytes;
  }

  /**
   * Bytes of weights the engine holds for the current choice: float32 after dequantising int8/int4/fp16 storage
   * (float16 where the engine runs in it, `precision`), layers past break-even dense. Against bytesLoaded (what is
   * downloaded) it shows what quantisation saves on the wire but not in memory.
   */
  get residentWeightBytes(): number {
    return engineWeightBytes(this.header, this.active.tiers, usesInt4Kernels(this.options, this.engine), this.precision === 'fp16');
  }

  /** The float type the engine computes in: 'fp16' where load's `precision` and the device gave it, else 'fp32'. */
  get precision(): 'fp16' | 'fp32' {
    return this.active.session.precision ?? 'fp32';
  }

  /** Bytes received from the source so far (header read, tiers, upgrades); cache hits are not counted. */
  get bytesFetched(): number {
    return this.loader.bytesFetched;
  }

  get inputs(): ValueInfo[] {
    return this.header.graph.inputs;
  }

  get outputs(): ValueInfo[] {
    return this.header.graph.outputs;
  }

  /** Names of the loaded adapters, in load order. */
  get adapters(): string[] {
    return this.adapterSet.names;
  }

  /**
   * Make an adapter made for this base available to run() as `name`. Checked first (AdapterError: another base, a
   * weight the model lacks, wrong shapes or rank, unknown kind, a name in use), so a refused adapter changes nothing.
   * Builds the adapter engine session only when no adapter loaded before changes the same weights the same way.
   * `adapter`: an .lra file's bytes (verified by readAdapter: LraFormatError when damaged) or an AdapterModel.
   */
  loadAdapter(adapter: AdapterModel | Uint8Array, name: string): Promise<void> {
    // Serialised with upgrade(): an adapter session is always built for the ranks the base runs.
    const next = this.switching.then(async () => {
      const model = adapter instanceof Uint8Array ? await readAdapter(adapter, { fileName: name }) : adapter;
      await this.adapterSet.load(model, name, { base: this.active.build, engine: this.engineImpl, context: this.context });
    });
    this.switching = next.catch(() => undefined);
    return next;
  }

  /** Forget an adapter (runs already started with it finish); the last one's engine session is released. */
  unloadAdapter(name: string): void {
    this.adapterSet.unload(name);
  }

  /**
   * Run once, on the base or (options.adapter) with a loaded adapter. Every graph input must be given, with the
   * model's type, shape and length, and (unless the load option nonFinite is 'allow') finite values: anything else
   * is a RunInputError before the engine sees it.
   */
  async run(feeds: Feeds, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    checkFeeds(feeds, this.header.graph.inputs, this.options.nonFinite);
    if (options.adapter !== undefined) return this.adapterSet.run(feeds, options.adapter);
    // A run stays on the engine session it started on, even if upgrade() switches meanwhile.
    const active = this.active;
    const result = active.session.run(feeds);
    active.running.add(result);
    result.then(
      () => active.running.delete(result),
      () => active.running.delete(result),
    );
    try {
      return await result;
    } catch (e) {
      if (!(e instanceof EngineDeviceLostError)) throw e;
      // Nothing is lost: the same run is repeated on the next engine in the priority order (once another run
      // has moved the session on, on the engine it moved to).
      if (this.active === active) {
        if (!this.moving && (!active.model || this.rest.length === 0)) throw e;
        this.moving ??= this.moveToNextEngine(active, e).finally(() => {
          this.moving = undefined;
        });
        await this.moving;
      }
      return this.run(feeds, options);
    }
  }

  /** Builds the current model on the next engine that can run here, reports the move, and drops the lost one. */
  private async moveToNextEngine(lost: Active, error: EngineDeviceLostError): Promise<void> {
    let [from, reason]: [EngineId, string] = [this.engineImpl.id, error.message];
    while (this.rest.length > 0) {
      const next = this.rest.shift()!;
      const event = { engine: from, reason, next: next.id };
      this.fallbackEvents.push(event);
      this.options.onFallback?.(event);
      try {
        const session = await next.create(lost.model!, this.context);
        this.engineImpl = next;
        this.active = { ...lost, session, running: new Set(), model: this.rest.length > 0 ? lost.model : undefined };
        // Its device is gone: release is best effort, and not awaited (it may never settle on a lost device).
        void lost.session.release().catch(() => {});
        return;
      } catch (e) {
        if (!(e instanceof EngineUnavailableError)) throw e;
        [from, reason] = [next.id, e.message];
      }
    }
    throw error;
  }

  /**
   * Switch to another tier count or preset: fetch only the tiers not held yet (one range request), verify them,
   * build the model on the same engine, then swap. Runs already started finish on the old engine session,
   * which is released once they settle. On any error the session keeps running as it was.
   */
  upgrade(target: UpgradeTarget): Promise<void> {
    const next = this.switching.then(() => this.switchTo(target));
    this.switching = next.catch(() => undefined);
    return next;
  }

  private async switchTo(target: UpgradeTarget): Promise<void> {
    const { onProgress, signal, timeoutMs, ...choiceOptions } = typeof target === 'number' ? { tiers: target } : typeof target === 'string' ? { preset: target } : target;
    const transfer = { signal: signal ?? this.options.signal, timeoutMs: timeoutMs ?? this.options.timeoutMs, retries: this.options.retries };
    const progress = onProgress ?? this.options.onProgress;
    const budget = { memoryMb: this.options.memoryMb, latencyMs: this.options.latencyMs };
    const device = choiceOptions.preset === AUTO_PRESET ? (this.device ?? (await resolveDevice(this.options.device))) : this.device;
    const choice = choose(this.header, this.payloadStart, { ...choiceOptions, ...budget }, this.engine, [this.engine], device);
    if (choice.tiers === this.active.tiers) {
      this.active.choice = choice;
      return;
    }
    const bytes = await this.loader.ensure(choice.tiers, (loaded, total) => progress?.({ phase: 'tiers', loaded, total }), transfer);
    const ranks = this.header.tiers[choice.tiers - 1].ranks;
    const refit = await loadRefits(this.loader, this.header, choice.tiers, this.options, transfer);
    throwIfAborted(transfer.signal, this.loader.sourceName);
    progress?.({ phase: 'build', loaded: 0, total: 1 });
    const build: BaseBuild = { payload: bytes, ranks, refits: refit?.refits, bits: tierBitsAt(this.header, choice.tiers) };
    const model = buildOnnxModel(this.header, bytes, ranks, { refits: build.refits, bits: build.bits, int4Kernels: usesInt4Kernels(this.options, this.engine) });
    const session = await this.engineImpl.create(model, this.context);
    // Loaded adapters move to the new ranks with the base; if their session cannot be built, nothing switches.
    const adoptAdapters = await this.adapterSet.rebuild({ base: build, engine: this.engineImpl, context: this.context }).catch(async (e: unknown) => {
      await session.release().catch(() => undefined);
      throw e;
    });
    progress?.({ phase: 'build', loaded: 1, total: 1 });
    const old = this.active;
    this.active = { session, tiers: choice.tiers, ranks, choice, refitBytes: refit?.bytes ?? 0, running: new Set(), model: this.rest.length > 0 ? model : undefined, build };
    adoptAdapters();
    this.retire(old);
  }

  private retire(old: Active): void {
    this.retiring.retire(old.session, old.running);
  }

  async release(): Promise<void> {
    await this.switching;
    await this.retiring.settled();
    await Promise.allSettled([...this.active.running]);
    await this.active.session.release();
    await this.adapterSet.release();
  }
}

function choose(header: ModelHeader, payloadStart: number, options: TierOptions & BudgetOptions, engine: EngineId, engines: readonly EngineId[], device: DeviceInfo | undefined): RankChoice {
  return chooseTiers(header, options, {
    estimateMb: (tiers) => estimateMemory(header, payloadStart, tiers, engine).totalMb,
    engines,
    device: device && { classId: deviceClassId(device), memoryMb: device.memoryMb },
  });
}

/** A file compiled with --refit has, per tier, a left factor and bias fitted for exactly that many tiers. */
async function loadRefits(loader: SectionLoader, header: ModelHeader, tiers: number, options: LoadOptions, transfer: TransferOptions): Promise<{ refits: Array<LayerRefit | undefined>; bytes: number } | undefined> {
  const tier = header.tiers[tiers - 1];
  if (!tier.refit || options.refit === false) return undefined;
  const bytes = await loader.refit(tier.index, transfer);
  return { refits: decodeRefits(header, tier.index, bytes), bytes: bytes.length };
}

/** MatMulNBits is onnxruntime's (com.microsoft): only its engines get int4 kernels. */
function usesInt4Kernels(options: LoadOptions, engine: EngineId): boolean {
  return options.int4Kernels === true && engine.startsWith('ort-');
}

async function resolveDevice(device: LoadOptions['device']): Promise<DeviceInfo> {
  if (typeof device === 'function') return device();
  return device ?? detectWebDevice();
}
