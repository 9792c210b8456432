/** One image through the session: the top classes with their names and probabilities. */
import type { HostTensor, LrmSession } from '../../../runtime/browser-webgpu.js';

export interface Guess {
  index: number;
  label: string;
  probability: number;
}

export interface Classification {
  guesses: Guess[];
  /** Tiers and engine the run used: the session may upgrade or fall back between runs. */
  tiers: number;
  engine: string;
  ms: number;
}

export async function classify(session: LrmSession, input: HostTensor, labels: readonly string[], top = 5): Promise<Classification> {
  // A run keeps the tiers it started on (an upgrade landing meanwhile waits for it), but a lost GPU device
  // repeats it on the next engine: the engine is read once it has finished.
  const tiers = session.tiers;
  const start = performance.now();
  const outputs = await session.run({ [session.inputs[0].name]: input });
  const ms = performance.now() - start;
  const engine = session.engine;
  // MobileNet has both logits and probs; any other classifier gets a softmax over its first output.
  const probabilities = outputs.probs ? (outputs.probs.data as Float32Array) : softmax(outputs[session.outputs[0].name].data as Float32Array);
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
  const guesses = order.slice(0, top).map((index) => ({ index, label: labels[index] ?? `class ${index}`, probability: probabilities[index] }));
  return { guesses, tiers, engine, ms };
}

function softmax(logits: Float32Array): Float32Array {
  const max = logits.reduce((m, v) => Math.max(m, v), -Infinity);
  const exp = logits.map((v) => Math.exp(v - max));
  const sum = exp.reduce((s, v) => s + v, 0);
  return exp.map((v) => v / sum);
}
