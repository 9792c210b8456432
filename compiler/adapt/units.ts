import type { HostTensor } from '../../runtime/tensor.js';
import { batchItem } from '../data/tensor.js';
import { CompileOptionError } from '../errors.js';
import type { LabelledSamples } from './labelled.js';
import type { SeededRandom } from './random.js';

/** One labelled sample: its feeds (dim 0 of 1) and its class. */
export interface Unit {
  feeds: Record<string, HostTensor>;
  label: number;
}

/** The labelled samples in memory, one unit per sample. */
export async function collectUnits(samples: LabelledSamples): Promise<Unit[]> {
  const units: Unit[] = [];
  for await (const { feeds, labels } of samples()) {
    const names = Object.keys(feeds);
    for (const name of names) {
      if (feeds[name].dims[0] !== labels.length) {
        throw new CompileOptionError(`input "${name}" holds ${feeds[name].dims[0]} samples but the batch has ${labels.length} labels`, 'adapter-data');
      }
    }
    for (let i = 0; i < labels.length; i++) units.push({ feeds: Object.fromEntries(names.map((k) => [k, batchItem(feeds[k], i)])), label: labels[i] });
  }
  return units;
}

/** Training and held-out samples: `validationSamples` of them held out (default a tenth, at least 1), at least 1 left to train on. */
export function splitHeldOut(units: Unit[], validationSamples: number | undefined, random: SeededRandom): { train: Unit[]; validation: Unit[] } {
  if (units.length < 2) throw new CompileOptionError(`adapter training needs at least 2 labelled samples, got ${units.length}`, 'adapter-data');
  const validationCount = Math.min(units.length - 1, validationSamples ?? Math.max(1, Math.round(units.length / 10)));
  // A seeded split, not the last samples: labelled folders are often sorted by class.
  const split = random.permutation(units.length);
  return {
    train: split.slice(0, units.length - validationCount).map((i) => units[i]),
    validation: split.slice(units.length - validationCount).map((i) => units[i]),
  };
}

/** Batches drawn without replacement from a new random order of the samples each pass. */
export class BatchSampler {
  private queue: number[] = [];

  constructor(
    private readonly units: readonly Unit[],
    private readonly random: SeededRandom,
  ) {}

  /** The next `size` samples (all of them, where there are fewer). */
  next(size: number): Unit[] {
    const batch: Unit[] = [];
    while (batch.length < Math.min(size, this.units.length)) {
      if (this.queue.length === 0) this.queue = this.random.permutation(this.units.length);
      batch.push(this.units[this.queue.pop()!]);
    }
    return batch;
  }
}

export function labelsOf(batch: readonly Unit[]): Int32Array {
  return Int32Array.from(batch, (u) => u.label);
}

/** Samples' tensors of one input, concatenated along dim 0. */
export function stack(parts: HostTensor[]): HostTensor {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((s, p) => s + p.data.length, 0);
  const data = new (parts[0].data.constructor as new (n: number) => HostTensor['data'])(total);
  let at = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return { ...parts[0], dims: [parts.reduce((s, p) => s + p.dims[0], 0), ...parts[0].dims.slice(1)], data };
}
