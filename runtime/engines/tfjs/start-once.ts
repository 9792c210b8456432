/**
 * A backend start shared by every session of the process: the first call starts it, later calls wait for the
 * same start, and a failed start is forgotten so the next session tries again (e.g. after the .wasm files moved).
 */
export function startOnce<A, R = void>(start: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let ready: Promise<R> | undefined;
  return (arg) => {
    ready ??= start(arg).catch((e: unknown) => {
      ready = undefined;
      throw e;
    });
    return ready;
  };
}
