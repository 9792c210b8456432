/**
 * LoKr's Kronecker split of a rows × cols weight: w1 is kron[0] × kron[1] and the low-rank part up2·down2 is
 * (rows / kron[0]) × (cols / kron[1]). LyCORIS/PEFT pick the split with `factorization(dim, factor)`; here each
 * side is the largest divisor of the dimension that is ≤ `maxFactor` (default 8) and still leaves at least `rank`
 * rows (cols) for up2·down2, so the requested rank always fits: 1 is a divisor, and rank ≤ min(rows, cols) is
 * checked first. E.g. 128 × 3136 at rank 8 → [8, 8]; 64 × 288 → [8, 8]; 32 × 9 → [4, 1].
 */
export const DEFAULT_LOKR_FACTOR = 8;

export function defaultKron(rows: number, cols: number, rank: number, maxFactor = DEFAULT_LOKR_FACTOR): [number, number] {
  return [largestDivisor(rows, rank, maxFactor), largestDivisor(cols, rank, maxFactor)];
}

function largestDivisor(dim: number, rank: number, maxFactor: number): number {
  for (let k = Math.min(maxFactor, dim); k > 1; k--) if (dim % k === 0 && dim / k >= rank) return k;
  return 1;
}
