/**
 * Import normalisation: rewrite what real exporters produce into the graph the compiler expects, before it is
 * imported. It works on the ONNX ModelProto rather than on the ImportedModel because every later onnxruntime pass
 * (calibration, sensitivity, refit, int4 precision) runs the source bytes and addresses its nodes by the imported
 * model's names and indices: both must be the same graph.
 *
 * The steps, in this order (each needs the one before):
 * 1. Constant nodes holding float tensors become initializers (normalise/constants.ts).
 * 2. Nodes are sorted topologically, stably; a cycle is the source model's fault (normalise/topo-sort.ts).
 * 3. Dead nodes and unused initializers are dropped (normalise/dead-code.ts).
 * 4. fp16/bf16 weights of factorable layers become float32, those layers running between Casts
 *    (normalise/half-weights.ts).
 */
import { DEFAULT_MIN_PARAMS } from '../factorize/candidates.js';
import { onnx, type ModelProto } from '../../runtime/onnx/proto.js';
import { constantsToInitializers } from './normalise/constants.js';
import { dropDeadCode } from './normalise/dead-code.js';
import { floatHalfWeights } from './normalise/half-weights.js';
import { sortNodes } from './normalise/topo-sort.js';

export interface NormaliseOptions {
  /** Half-precision weights smaller than this stay as they are (the compiler would not factor them). */
  minParams?: number;
}

export interface NormalisedSource {
  /** The rewritten model, or the source bytes themselves when nothing needed doing. */
  bytes: Uint8Array;
  /** One short line per kind of change (e.g. "12 Constant weights → initializers"); empty when none. */
  notes: string[];
}

export function normaliseOnnx(source: Uint8Array, fileName: string, options: NormaliseOptions = {}): NormalisedSource {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(source);
  } catch {
    return { bytes: source, notes: [] }; // importOnnx reports an unreadable file with its own message
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0) return { bytes: source, notes: [] };
  const constants = constantsToInitializers(graph);
  const moved = sortNodes(graph, fileName);
  const dead = dropDeadCode(graph);
  const half = floatHalfWeights(graph, options.minParams ?? DEFAULT_MIN_PARAMS, fileName);
  const notes = [
    constants > 0 ? `${count(constants, 'float Constant')} → initializers` : '',
    moved > 0 ? `nodes sorted (${moved} moved)` : '',
    dead.nodes > 0 ? `${count(dead.nodes, 'dead node')} dropped` : '',
    dead.initializers > 0 ? `${count(dead.initializers, 'unused initializer')} dropped` : '',
    half.fp16 > 0 ? `${count(half.fp16, 'fp16 weight')} → float32 (their layers run in float32 between Casts)` : '',
    half.bf16 > 0 ? `${count(half.bf16, 'bf16 weight')} → float32 (their layers run in float32 between Casts)` : '',
  ].filter(Boolean);
  return { bytes: notes.length > 0 ? onnx.ModelProto.encode(model).finish() : source, notes };
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
