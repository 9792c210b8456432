/**
 * A backend start shared by every session of the process: the first call starts it, later calls wait for the
 * same start, and a failed start is forgotten so the next session tries again (e.g. after the .wasm files moved).
 */
export function startOnce<A>(start: (arg: A) => Promise<void>): (arg: A) => Promise<void> {
  let ready: Promise<void> | undefined;
  return (arg) => {
    ready ??= start(arg).catch((e: unknown) => {
      ready = undefined;
      throw e;
    });
    return ready;
  };
}
