/**
 * The adapter trainer's seeded randomness (initial factors, sample order): mulberry32, a 32-bit generator that is
 * small, fast and the same on every platform, so `--seed` reproduces a run exactly.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** Uniform in [-bound, bound). */
  uniform(bound: number): number {
    return (2 * this.next() - 1) * bound;
  }

  /** Normal-ish with mean 0 and standard deviation 1: the sum of 4 uniforms, rescaled (bounded by ±2√3). */
  normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * Math.sqrt(3);
  }

  /** 0..n-1 in random order (Fisher–Yates). */
  permutation(n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }
}
