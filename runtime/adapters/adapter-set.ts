/**
 * The adapters an LrmSession holds and the one engine session that runs them (issue 17). The base engine session is
 * never touched, so runs without an adapter give the same bytes as before any was loaded. Adapter requests run on a
 * second engine session whose changed weights are graph inputs (graph.ts): switching adapters is only feeding other
 * prepared tensors. It is rebuilt only when a new adapter changes a weight it has no input for (or needs a joined
 * layer dense), and when upgrade() changes the ranks.
 */
import type { AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import type { Engine, EngineContext, EngineSession } from '../engines/engine.js';
import { Retirement } from '../engines/retirement.js';
import { AdapterError } from '../errors.js';
import type { Feeds, HostTensor } from '../tensor.js';
import { adapterFeeds, fitsSlots } from './feeds.js';
import { buildAdapterGraph, type AdapterGraph, type BaseBuild, type SlotPlan } from './graph.js';
import { checkAdapter, checkBase, type AdapterTarget } from './targets.js';

interface Loaded {
  model: AdapterModel;
  sites: AdapterTarget[];
}

/** One build of the adapter session, with every loaded adapter's feeds for it. */
interface Built {
  graph: AdapterGraph;
  session: EngineSession;
  feeds: Map<string, Feeds>;
  running: Set<Promise<unknown>>;
}

/** Where adapter sessions are built: the session's current engine, base choice and warning sink. */
export interface BuildTarget {
  base: BaseBuild;
  engine: Engine;
  context: EngineContext;
}

export class AdapterSet {
  private readonly loaded = new Map<string, Loaded>();
  private built: Built | undefined;
  private readonly retiring = new Retirement();

  constructor(
    private readonly header: ModelHeader,
    /** The base's identity: adapters made for another header hash are refused. */
    private readonly base: { headerSha256: string; fileName: string },
  ) {}

  get names(): string[] {
    return [...this.loaded.keys()];
  }

  /**
   * Check the adapter, then give it feeds on the adapter session, building that session (once, with inputs for every
   * loaded adapter's weights) only when it has no input for one of this adapter's weights. Callers serialise load()
   * and rebuild(); run() and unload() may come at any time.
   */
  async load(adapter: AdapterModel, name: string, target: BuildTarget): Promise<void> {
    if (this.loaded.has(name)) throw new AdapterError(`an adapter named "${name}" is already loaded; unloadAdapter("${name}") first, or load this one under another name`, 'duplicate-name', name);
    checkBase(adapter, this.base.headerSha256, this.base.fileName, name);
    const entry: Loaded = { model: adapter, sites: checkAdapter(this.header, adapter, name) };
    const current = this.built;
    if (current && fitsSlots(current.graph, adapter)) {
      current.feeds.set(name, adapterFeeds(this.header, current.graph, adapter));
    } else {
      const built = await this.build(new Map(this.loaded).set(name, entry), target);
      this.adopt(built, name);
    }
    this.loaded.set(name, entry);
  }

  unload(name: string): void {
    if (!this.loaded.delete(name)) throw this.unknown(name);
    this.built?.feeds.delete(name);
    // Nothing left to serve: the adapter session's memory goes back (a later load builds it again).
    if (this.loaded.size === 0 && this.built) {
      this.retire(this.built);
      this.built = undefined;
    }
  }

  /** Runs on the adapter session with the adapter's prepared weights; `feeds` are checked by the caller. */
  run(feeds: Feeds, name: string): Promise<Record<string, HostTensor>> {
    const built = this.built;
    const weights = built?.feeds.get(name);
    if (!built || !weights || !this.loaded.has(name)) return Promise.reject(this.unknown(name));
    const result = built.session.run({ ...feeds, ...weights });
    built.running.add(result);
    const settle = (): boolean => built.running.delete(result);
    result.then(settle, settle);
    return result;
  }

  /**
   * For upgrade(): the adapter session for the new ranks, built but not yet in use; the returned function puts it
   * in use (call it when the base switches). Nothing to build when no adapter is loaded.
   */
  async rebuild(target: BuildTarget): Promise<() => void> {
    if (this.loaded.size === 0) return () => {};
    const built = await this.build(new Map(this.loaded), target);
    return () => this.adopt(built);
  }

  async release(): Promise<void> {
    if (this.built) this.retire(this.built);
    this.built = undefined;
    await this.retiring.settled();
  }

  private async build(adapters: ReadonlyMap<string, Loaded>, { base, engine, context }: BuildTarget): Promise<Built> {
    const graph = buildAdapterGraph(this.header, base, slotPlan(adapters));
    const feeds = new Map([...adapters].map(([name, a]) => [name, adapterFeeds(this.header, graph, a.model)]));
    const session = await engine.create(graph.model, context);
    return { graph, session, feeds, running: new Set() };
  }

  /** Swap in a new build; adapters unloaded while it was built are dropped from it (`adding` is being loaded). */
  private adopt(built: Built, adding?: string): void {
    for (const name of [...built.feeds.keys()]) if (name !== adding && !this.loaded.has(name)) built.feeds.delete(name);
    if (this.built) this.retire(this.built);
    this.built = built;
  }

  private retire(old: Built): void {
    this.retiring.retire(old.session, old.running);
  }

  private unknown(name: string): AdapterError {
    const loaded = this.names;
    return new AdapterError(`no adapter named "${name}" is loaded (${loaded.length > 0 ? `loaded: ${loaded.join(', ')}` : 'none is'}); call loadAdapter() first`, 'unknown-adapter', name);
  }
}

/** One slot per weight some adapter changes; joined only when every adapter changing a factored layer is LoRA (graph.ts). */
function slotPlan(adapters: ReadonlyMap<string, Loaded>): Map<string, SlotPlan> {
  const plan = new Map<string, SlotPlan>();
  for (const { model, sites } of adapters.values()) {
    for (const site of sites) {
      const join = site.storage === 'factored' && model.kind === 'lora' && (plan.get(site.target)?.join ?? true);
      plan.set(site.target, { site, join });
    }
  }
  return plan;
}
