/**
 * A tier's latency against the original's, timed in alternating blocks of runs on the same sample (original block,
 * tier block, tier block, original block, …), so that other load on a shared machine slows both alike.
 *
 * Why (issue 14): on the 2-core bench machine onnxruntime's CPU thread pool is very sensitive to other load: the
 * MobileNet v1 0.75 original ran at p50 2 ms in the committed bench, and here, at load average 5–10, at 10–100 ms on
 * its default two threads (11 ms on one). With the original timed only before and after all of a model's tiers,
 * one busy stretch put every tier of one method at 2.4–5.5× (calibrated-refit on MobileNet, whose graphs are node for
 * node those of calibrated: test/runtime/refit-graph.test.ts), while the methods timed before and after it were < 1×.
 */
import type { Runner } from '../compiler/evaluate.js';
import type { Feeds } from '../runtime/tensor.js';

export interface PairedLatency {
  /** Median of the original's runs in the alternation, ms. */
  originalMs: number;
  /** Median of the tier's runs in the alternation, ms. */
  tierMs: number;
  /**
   * The median over the rounds of the tier's block median / the original's block median in that round (not tierMs /
   * originalMs; see alternate()).
   */
  ratio: number;
  /** Each round's ratio, in round order. */
  roundRatios: number[];
}

/** How long the runs of a model too fast for 30 runs to be a steady median should last, ms (LATENCY_NOTE). */
export const LATENCY_FILL_MS = 300;

/** Blocks per runner: the alternation's period is a sixth of the measurement, well under a minute. */
const ROUNDS = 6;
const SETTLE = 2;

/**
 * Runs as LATENCY_NOTE says (30 each after 5 warm-ups; ~fillMs of each after 20 for fast models), in alternating
 * blocks. fillMs 0: the 30 runs alone (bench --quick).
 */
export async function pairedLatencyP50(original: Runner, tier: Runner, feeds: Feeds, fillMs = LATENCY_FILL_MS): Promise<PairedLatency> {
  const first = await alternate(original, tier, feeds, 5, 30);
  const slower = Math.max(first.originalMs, first.tierMs);
  if (slower * 30 >= fillMs) return first;
  return alternate(original, tier, feeds, 20, Math.min(2000, Math.ceil(fillMs / Math.max(slower, 0.01))));
}

/**
 * Blocks of runs, not single runs: right after a run, onnxruntime's pool threads of that session spin a while for
 * more work, and on 2 cores the other session's next run is slower (MobileNet here, run by run: 1.4–1.9× the same
 * session alone). So each block starts with SETTLE untimed runs, and only then are runs timed.
 *
 * The ratio compares the two blocks of each round, which ran within a fraction of a second of each other, and takes
 * the median over rounds. This machine switches speed for seconds at a time: MobileNet's original alone ran 3.8 ms
 * for 3 s, then 5.2 ms for 12 s. A switch halfway through a measurement leaves each runner's runs half fast, half
 * slow, and the median of such a mixture lands in either mode: the ratio of the two medians gave MobileNet's
 * plain-svd tier 1 5.59 ms against 3.88 (1.44×) in one bench run, and 1.21× in another, though the same pair timed
 * alone in alternation gives 0.95× (with one thread per session, 0.95× too). Per round, both blocks see the same speed.
 */
async function alternate(original: Runner, tier: Runner, feeds: Feeds, warmup: number, runs: number): Promise<PairedLatency> {
  const block = Math.ceil(runs / ROUNDS);
  const [a, b]: [number[], number[]] = [[], []];
  const roundRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [ra, rb]: [number[], number[]] = [[], []];
    // Which goes first alternates too.
    const order: Array<[Runner, number[]]> = round % 2 === 0 ? [[original, ra], [tier, rb]] : [[tier, rb], [original, ra]];
    for (const [runner, times] of order) {
      for (let i = 0; i < (round < 2 ? warmup : SETTLE); i++) await runner.run(feeds);
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await runner.run(feeds);
        times.push(performance.now() - t0);
      }
    }
    a.push(...ra);
    b.push(...rb);
    roundRatios.push(median(rb) / median(ra));
  }
  return { originalMs: median(a), tierMs: median(b), ratio: median(roundRatios), roundRatios };
}

/** The middle value; for an even count the mean of the two middle ones (six round ratios have no middle one). */
function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
