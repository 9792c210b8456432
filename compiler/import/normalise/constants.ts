import { DataType } from '../../../formats/model.js';
import { onnx, type GraphProto, type NodeProto, type TensorProto } from '../../../runtime/onnx/proto.js';

/** Float types a weight can have: these Constants become initializers. */
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/**
 * Move every top-level Constant node holding a dense float tensor (`value`) into graph.initializer under its
 * output's name: paddle2onnx and some tf2onnx/torch exports store their weights so, and the compiler factors
 * initializer weights only. A lossless rewrite: the same tensor under the same name. Integer Constants (shapes,
 * axes) stay nodes, as do sparse, string and value_float(s)/value_int(s) Constants: none of them is a weight.
 * Returns how many moved.
 */
export function constantsToInitializers(graph: GraphProto): number {
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const kept: NodeProto[] = [];
  const moved: TensorProto[] = [];
  for (const node of graph.node ?? []) {
    const value = floatValue(node);
    // An initializer cannot stand for a graph output in every runtime: such a Constant stays a node.
    if (value && !graphOutputs.has(node.output![0])) moved.push(onnx.TensorProto.create({ ...value, name: node.output![0] }));
    else kept.push(node);
  }
  if (moved.length === 0) return 0;
  graph.node = kept;
  graph.initializer = [...(graph.initializer ?? []), ...moved];
  return moved.length;
}

/** The dense float tensor of a plain Constant node (one output, only `value`), held inside the file. */
function floatValue(node: NodeProto): TensorProto | undefined {
  if (node.opType !== 'Constant' || (node.domain ?? '') !== '' && node.domain !== 'ai.onnx') return undefined;
  if (node.output?.length !== 1 || node.attribute?.length !== 1 || node.attribute[0].name !== 'value') return undefined;
  const t = node.attribute[0].t;
  if (!t || !FLOAT_TYPES.has(t.dataType ?? 0)) return undefined;
  const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0;
  return external ? undefined : t;
}
