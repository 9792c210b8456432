/**
 * `--merge`: rerun some models and keep the others from the results already written, so one model's change does not
 * cost a run of all ten (about 100 minutes here). Each model's rows still come from one run (its tiers are timed
 * against its own original in that run); what differs between models is when they ran, so every model carries its
 * own stamp (ModelResult.ran) and the report prints it.
 */
import type { BenchResult, ModelResult } from './types.js';

export class BenchMergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchMergeError';
  }
}

/**
 * `previous` with each model of `fresh` in place of its namesake (a new one after them), and the run-wide fields of
 * `fresh`. A previous model without a stamp gets its run's date and load averages.
 */
export function mergeResults(previous: BenchResult, fresh: BenchResult): BenchResult {
  if (previous.settings.quick !== fresh.settings.quick) {
    throw new BenchMergeError(`cannot merge a ${fresh.settings.quick ? '--quick' : 'full'} run into ${previous.settings.quick ? '--quick' : 'full'} results: rerun without --merge`);
  }
  if (previous.settings.engine !== fresh.settings.engine) {
    throw new BenchMergeError(`the earlier results ran on ${previous.settings.engine}, this run on ${fresh.settings.engine}: rerun without --merge`);
  }
  const stamp = (m: ModelResult): ModelResult => m.ran ? m : { ...m, ran: { date: previous.environment.date, loadAverage: { start: previous.environment.loadAverage.start, end: previous.environment.loadAverage.end ?? [] } } };
  const byId = new Map<string, ModelResult>(previous.models.map((m) => [m.id, stamp(m)]));
  for (const m of fresh.models) byId.set(m.id, m);
  const models = [...byId.values()];
  const rerun = new Set(fresh.models.map((m) => m.id));
  const skipped = [...previous.skipped.filter((s) => !rerun.has(s.id) && !byId.has(s.id)), ...fresh.skipped.filter((s) => !byId.has(s.id))];
  return {
    environment: fresh.environment,
    settings: { ...fresh.settings, models: models.map((m) => m.id) },
    totalSeconds: models.reduce((s, m) => s + m.seconds, 0),
    models,
    skipped,
    rows: models.flatMap((m) => m.rows),
  };
}
