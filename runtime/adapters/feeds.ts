/**
 * What one adapter feeds the adapter session's slots (graph.ts), prepared once at loadAdapter (and again only when
 * the adapter session is rebuilt), so a request just adds them to its inputs.
 */
import type { AdapterLayer, AdapterModel } from '../../formats/adapter-model.js';
import type { ModelHeader } from '../../formats/model.js';
import { factoredNodes } from '../onnx/build-model.js';
import type { Feeds, HostTensor } from '../tensor.js';
import { adapterDelta, loraComponents } from './delta.js';
import type { AdapterGraph, DenseSlot, JoinedSlot, Slot } from './graph.js';

/** Whether the slots can take this adapter as they are (each of its targets a slot, LoRA wherever a slot is joined). */
export function fitsSlots(graph: AdapterGraph, adapter: AdapterModel): boolean {
  return adapter.layers.every((l) => {
    const slot = graph.slots.get(l.target);
    return slot !== undefined && (slot.mode === 'dense' || adapter.kind === 'lora');
  });
}

/** Every slot's input: the adapter's joined factors or merged weight where it changes the layer, else the base's. */
export function adapterFeeds(header: ModelHeader, graph: AdapterGraph, adapter: AdapterModel): Feeds {
  if (!fitsSlots(graph, adapter)) throw new Error('adapter session does not have inputs for every layer of this adapter');
  const byTarget = new Map(adapter.layers.map((l) => [l.target, l]));
  const feeds: Feeds = {};
  for (const [target, slot] of graph.slots) Object.assign(feeds, slotFeeds(header, slot, adapter, byTarget.get(target)));
  return feeds;
}

function slotFeeds(header: ModelHeader, slot: Slot, adapter: AdapterModel, layer: AdapterLayer | undefined): Feeds {
  if (slot.mode === 'dense') return { [slot.name]: layer ? merged(slot, adapterDelta(adapter.kind, layer)) : slot.base };
  if (!layer) return { [slot.names.in]: slot.base.in, [slot.names.out]: slot.base.out };
  return joined(header, slot, layer);
}

/** [A | sU] and [B ; D] in the op's own layout: the adapter's components laid out by factoredNodes, appended along the rank axis. */
function joined(header: ModelHeader, slot: JoinedSlot, layer: AdapterLayer): Feeds {
  const base = header.layers[slot.site.layer];
  const { tensors } = factoredNodes(base, header.graph.nodes[base.nodeIndex], loraComponents(layer));
  const extra = new Map(tensors.map((t) => [t.name!, { dims: (t.dims ?? []).map(Number), data: new Float32Array(copyBytes(t.rawData!).buffer) }]));
  return {
    [slot.names.in]: concat(slot.base.in, extra.get(slot.names.in)!, slot.rankAxis.in),
    [slot.names.out]: concat(slot.base.out, extra.get(slot.names.out)!, slot.rankAxis.out),
  };
}

/** The slot's base weight plus ΔW (rows × cols), in the slot's layout. */
function merged(slot: DenseSlot, delta: Float32Array): HostTensor {
  const { rows, cols } = slot.site;
  const out = (slot.base.data as Float32Array).slice();
  if (slot.transposed) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] += slot.scale * delta[r * cols + c];
  } else {
    for (let i = 0; i < out.length; i++) out[i] += slot.scale * delta[i];
  }
  return { dataType: 'float32', dims: slot.base.dims, data: out };
}

/** a and b joined along `axis` (their other dims equal). */
function concat(a: HostTensor, b: { dims: number[]; data: Float32Array }, axis: number): HostTensor {
  const outer = a.dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const [chunkA, chunkB] = [a.data.length / outer, b.data.length / outer];
  const out = new Float32Array(a.data.length + b.data.length);
  for (let o = 0; o < outer; o++) {
    out.set((a.data as Float32Array).subarray(o * chunkA, (o + 1) * chunkA), o * (chunkA + chunkB));
    out.set(b.data.subarray(o * chunkB, (o + 1) * chunkB), o * (chunkA + chunkB) + chunkA);
  }
  const dims = a.dims.map((d, i) => (i === axis ? d + b.dims[i] : d));
  return { dataType: 'float32', dims, data: out };
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}
