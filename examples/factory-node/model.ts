/**
 * Startup: the tiers for this host (tier-choice.ts), the load (pinned when --integrity is given), the classifier
 * check, the labels, the adapters and a warm-up run of each, and the decode workers. Everything that can be wrong with the files is found here, before the
 * service listens.
 */
import { readClassNames } from '../../compiler/data/imagenet.js';
import { syntheticFeeds } from '../../compiler/tune/sample-feeds.js';
import { detectNodeDevice, load, type EngineId, type LrmSession } from '../../runtime/node.js';
import { loadAdapterDir } from './adapters.js';
import { Classifier } from './classifier.js';
import { DecodePool } from './decode-pool.js';
import type { ServerOptions } from './options.js';
import { chooseTiers } from './tier-choice.js';

export interface LoadedModel {
  session: LrmSession;
  classifier: Classifier;
  decoder: DecodePool;
  adapters: string[];
  /** Why these tiers (for the startup line). */
  why: string;
}

export async function openModel(options: ServerOptions): Promise<LoadedModel> {
  // Labels first: a wrong path fails in milliseconds, not after the model has loaded.
  const labels = options.labels === undefined ? undefined : await readClassNames(options.labels);
  const device = await detectNodeDevice();
  const choice = await chooseTiers(options, device);
  const session = await load(options.model, { ...choice.options, engine: options.engine as EngineId | undefined, integrity: options.integrity, device });
  try {
    const classifier = Classifier.create(session, {
      output: options.output,
      labels,
      top: options.top,
    });
    const adapters = options.adapters === undefined ? [] : await loadAdapterDir(session, options.adapters);
    // The first run of an engine session allocates and plans (a few hundred ms): done here, not in a request.
    const feeds = syntheticFeeds(session.header);
    for (const adapter of [undefined, ...adapters]) await session.run(feeds, { adapter });
    const preprocess = { mean: options.mean, std: options.std, limits: { maxResolutionInMP: options.maxMegapixels } };
    const decoder = new DecodePool(options.concurrency, { inputs: session.inputs, preprocess });
    await decoder.warmUp().catch(async (e: unknown) => {
      await decoder.close();
      throw e;
    });
    return { session, classifier, decoder, adapters, why: choice.why };
  } catch (e) {
    await session.release();
    throw e;
  }
}

/** Tier index as `lowrank inspect` numbers them: tiers 0..tier are loaded. */
export function tierIndex(session: LrmSession): number {
  return session.tiers - 1;
}
