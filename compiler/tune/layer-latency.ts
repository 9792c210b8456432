/**
 * Per-layer latency on this device: every factored layer alone, as a one-node ONNX model (two nodes when it
 * runs factored), timed at a grid of ranks and dense. The result is the table compiler/costs.ts reads
 * (`lowrank compile --cost latency:<table.json>`).
 */
import { headerGrouping, type FactoredLayer, type ModelHeader } from '../../formats/model.js';
import type { Engine } from '../../runtime/engines/engine.js';
import { fullRankWeight, gatherFactors } from '../../runtime/factors.js';
import { denseTensorBytes } from '../../runtime/dense-weights.js';
import { buildOnnxModel, denseNode, factoredNodes, runsFactored } from '../../runtime/onnx/build-model.js';
import { onnx, type NodeProto, type TensorProto } from '../../runtime/onnx/proto.js';
import type { Feeds, HostTensor } from '../../runtime/tensor.js';
import { withOutputs } from '../calibrate.js';
import { onnxDataTypeOf, type HostDataType } from '../data/tensor.js';
import type { LatencyTable } from '../costs.js';
import { latencyPercentiles } from '../evaluate.js';

export interface TimingOptions {
  /** Runs before timing (engines allocate and pick kernels on the first runs). */
  warmup: number;
  /** Timed runs; the median is kept. */
  runs: number;
  /** Keep warming up until this many ms have passed (see latencyPercentiles). */
  warmupMs?: number;
}

/**
 * Ranks timed for a layer: the ranks its tiers give it, and powers of two from `step` up, all below break-even
 * (past it the layer runs dense, which is timed once as `dense`).
 */
export function rankGrid(header: ModelHeader, layerIndex: number, step = 8): number[] {
  const layer = header.layers[layerIndex];
  const ranks = new Set<number>();
  for (const t of header.tiers) ranks.add(t.ranks[layerIndex]);
  for (let r = step; r <= layer.maxRank; r *= 2) ranks.add(r);
  return [...ranks].filter((r) => r > 0 && r <= layer.maxRank && runsFactored(layer, r)).sort((a, b) => a - b);
}

/**
 * The tensors each factored layer's node reads (besides its weight and stored initializers), captured by
 * running the model once at full rank on `feeds` with those tensors as extra outputs.
 */
async function layerInputs(header: ModelHeader, payload: Uint8Array, engine: Engine, feeds: Feeds): Promise<Map<string, HostTensor>> {
  const stored = new Set(header.graph.initializers.map((t) => t.name));
  const weights = new Set(header.layers.map((l) => l.weight));
  const wanted = new Set<string>();
  for (const layer of header.layers) {
    for (const name of header.graph.nodes[layer.nodeIndex].inputs) if (name && !stored.has(name) && !weights.has(name)) wanted.add(name);
  }
  const full = header.tiers[header.tiers.length - 1].ranks;
  const model = withOutputs(buildOnnxModel(header, payload, full), [...wanted].filter((n) => !(n in feeds)));
  const session = await engine.create(model);
  try {
    const out = await session.run(feeds);
    return new Map([...wanted].map((n) => [n, out[n] ?? feeds[n]]));
  } finally {
    await session.release();
  }
}

/** One layer alone at `rank`, or dense (its stored components multiplied out), reading the captured tensors as graph inputs. */
function singleLayerModel(header: ModelHeader, payload: Uint8Array, layer: FactoredLayer, rank: number | 'dense', inputs: Map<string, HostTensor>): Uint8Array {
  const node = header.graph.nodes[layer.nodeIndex];
  let nodes: NodeProto[];
  const tensors: TensorProto[] = [];
  if (rank !== 'dense') {
    const built = factoredNodes(layer, node, gatherFactors(layer, rank, payload, header));
    nodes = built.nodes;
    tensors.push(...built.tensors);
  } else {
    const built = denseNode(layer, node, fullRankWeight(layer, payload, header));
    nodes = [built.node];
    tensors.push(built.tensor);
  }
  for (const t of header.graph.initializers) {
    if (node.inputs.includes(t.name)) tensors.push({ name: t.name, dataType: t.dataType, dims: t.dims, rawData: denseTensorBytes(t, payload, headerGrouping(header)) });
  }
  const graphInputs = node.inputs.filter((n) => inputs.has(n)).map((name) => ({
    name,
    type: { tensorType: { elemType: onnxDataTypeOf(inputs.get(name)!.dataType as HostDataType), shape: { dim: inputs.get(name)!.dims.map((d) => ({ dimValue: d })) } } },
  }));
  const model = onnx.ModelProto.create({
    irVersion: Math.max(header.source.irVersion, 4),
    producerName: 'lowrank-edge tune',
    opsetImport: header.source.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    graph: {
      name: `${layer.name}@${rank}`,
      node: nodes,
      initializer: tensors,
      input: graphInputs,
      output: [{ name: node.outputs[0], type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

async function timeModel(engine: Engine, model: Uint8Array, feeds: Feeds, timing: TimingOptions): Promise<number> {
  const session = await engine.create(model);
  try {
    return (await latencyPercentiles(session, feeds, timing.warmup, timing.runs, timing.warmupMs)).p50;
  } finally {
    await session.release();
  }
}

/**
 * Times every factored layer alone at each rank of its grid and dense, on `engine`, with the layer inputs that
 * `feeds` (one sample) produce. `onStep(done, total, layer)` reports each timed model.
 */
export async function measureLayerLatency(
  header: ModelHeader,
  payload: Uint8Array,
  engine: Engine,
  feeds: Feeds,
  timing: TimingOptions,
  onStep?: (done: number, total: number, layer: string) => void,
): Promise<LatencyTable> {
  const inputs = await layerInputs(header, payload, engine, feeds);
  const grids = header.layers.map((_, i) => rankGrid(header, i));
  const total = grids.reduce((s, g) => s + g.length + 1, 0);
  let done = 0;
  const layers: LatencyTable['layers'] = {};
  for (const [i, layer] of header.layers.entries()) {
    const node = header.graph.nodes[layer.nodeIndex];
    const layerFeeds: Feeds = Object.fromEntries(node.inputs.filter((n) => inputs.has(n)).map((n) => [n, inputs.get(n)!]));
    const time = async (rank: number | 'dense'): Promise<number> => {
      const ms = await timeModel(engine, singleLayerModel(header, payload, layer, rank, inputs), layerFeeds, timing);
      onStep?.(++done, total, layer.name);
      return Math.round(ms * 1e4) / 1e4; // 0.1 µs: finer is noise
    };
    const dense = await time('dense');
    const ranks: Record<string, number> = {};
    for (const r of grids[i]) ranks[String(r)] = await time(r);
    layers[layer.name] = { dense, ranks };
  }
  return { layers };
}
