/** How far an engine's output is from the reference's: max |a − b| over max |a| (the reference's scale). */
export function maxRelativeError(reference: ArrayLike<number>, other: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    err = Math.max(err, Math.abs(reference[i] - other[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return err / (scale || 1);
}
