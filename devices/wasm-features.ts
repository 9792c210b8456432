/**
 * WebAssembly feature tests by validating tiny modules, as wasm-feature-detect does: a module that uses a
 * v128 instruction (SIMD), and one with a shared memory and an atomic op (threads).
 */
const SIMD_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const THREADS_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]);

export function wasmFeatures(crossOriginIsolated: boolean | undefined): { simd: boolean; threads: boolean } {
  const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
  if (!wasm) return { simd: false, threads: false };
  const validate = (bytes: Uint8Array<ArrayBuffer>): boolean => {
    try {
      return wasm.validate(bytes);
    } catch {
      return false;
    }
  };
  // Threads also need SharedArrayBuffer, which browsers only expose to cross-origin isolated pages.
  const shared = typeof SharedArrayBuffer !== 'undefined' && crossOriginIsolated !== false;
  return { simd: validate(SIMD_MODULE), threads: shared && validate(THREADS_MODULE) };
}
