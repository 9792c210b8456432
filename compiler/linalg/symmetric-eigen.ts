import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Eigen-decomposition of a symmetric k×k matrix (row-major Float64Array), eigenvalues descending.
 * ml-matrix's Householder tridiagonalisation + QL (JAMA's tred2/tql2): well kept and exact enough; about
 * 2.4 s for k = 768 on one core here, which bounds how large a layer we can factor quickly.
 */
export function symmetricEigen(A: Float64Array, k: number): { values: Float64Array; vectors: Float64Array[] } {
  const rows: number[][] = new Array(k);
  for (let i = 0; i < k; i++) rows[i] = Array.from(A.subarray(i * k, (i + 1) * k));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => values[b] - values[a]);
  return {
    values: Float64Array.from(order, (i) => values[i]),
    vectors: order.map((i) => Float64Array.from(V.getColumn(i))),
  };
}
