/**
 * A small, deterministic adapter of each kind for the .lra fuzzer and tests: three layers (one 1×1), rows of very
 * different magnitudes (what per-row int8 scales are for), an all-zero row (int8 scale 0) and tiny values (fp16
 * subnormals).
 */
import { adapterFactorShapes, type AdapterDType, type AdapterKind, type AdapterLayer, type AdapterModel } from '../formats/adapter-model.js';
import { generator } from './mutate.js';

/** The layers' dims; lokr gets kron shapes that divide them. */
const LAYERS: Array<Omit<AdapterLayer, 'factors'>> = [
  { target: 'fc1.weight', rows: 12, cols: 20, rank: 4, alpha: 8 },
  { target: 'features.0.weight', rows: 6, cols: 27, rank: 2, alpha: 2.5 },
  { target: 'head.weight', rows: 1, cols: 1, rank: 1, alpha: 1 },
];
const KRON: Array<[number, number]> = [[2, 4], [3, 3], [1, 1]];

export function sampleAdapter(kind: AdapterKind, dtype: AdapterDType, options: { seed?: number; baseSha256?: string } = {}): AdapterModel {
  const random = generator(options.seed ?? 1);
  const layers = LAYERS.map((dims, i): AdapterLayer => {
    const layer = kind === 'lokr' ? { ...dims, rank: Math.min(dims.rank, 3), kron: KRON[i]! } : { ...dims };
    const factors = adapterFactorShapes(kind, layer).map(([rows, cols], j) =>
      Float32Array.from({ length: rows * cols }, (_, k) => {
        const row = Math.floor(k / cols);
        if (j === 0 && row === 1 && rows > 2) return 0; // an all-zero row
        const scale = 10 ** ((row % 4) - 2); // 0.01 .. 10 by row
        return (random() * 2 - 1) * scale * (k % 17 === 3 ? 1e-6 : 1);
      }),
    );
    return { ...layer, factors };
  });
  return {
    kind,
    dtype,
    base: { headerSha256: options.baseSha256 ?? '0123456789abcdef'.repeat(4), fileName: 'mnist-cnn.lrm' },
    layers,
    notes: [`${kind} ${dtype} sample`, 'held-out accuracy: n/a'],
  };
}
