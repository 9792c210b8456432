import * as tf from '@tensorflow/tfjs-core';
import { onnx } from '../../onnx/proto.js';
import type { Feeds, HostTensor } from '../../tensor.js';
import type { Step } from './fuse-activations.js';
import type { InterpretedGraph } from './graph.js';
import type { HostValue } from './host-value.js';
import { hostValue } from './host-value.js';
import { OpContext, type SessionCache, type TensorValue, type Value } from './kernel.js';
import { nhwcToNchw } from './layout.js';
import { tfType } from './ops/constant.js';

const D = onnx.TensorProto.DataType;

/**
 * Runs an ONNX graph node by node with tfjs-core ops on whichever tfjs backend is active. Constants stay in host
 * memory until first used as tensors and are then kept for the session; every intermediate tensor is freed after
 * its last reader, so memory is bounded by the live values, not the graph.
 */
export class GraphInterpreter {
  /** Uploaded constants and per-node derived weights, kept across runs, freed by dispose(). */
  private readonly cache = new Map<string, tf.Tensor>();
  private readonly cached = new Set<tf.Tensor>();
  /** Host values that are the same on every run: initializers and the folded outputs below. */
  private readonly constants: Set<HostValue>;
  /**
   * Host outputs of steps whose inputs are all constants (Constant nodes, shape arithmetic on initializers),
   * computed on the first run and reused: constant folding, done lazily.
   */
  private readonly folded = new Map<number, Value[]>();
  private readonly sessionCache: SessionCache = {
    upload: (v, name) => (this.constants.has(v) ? this.keep(`constant:${name}`, () => toBackend(v)) : toBackend(v)),
    isConstant: (v) => this.constants.has(v),
    memo: (key, make) => this.keep(`node:${key}`, make),
  };
  /** Index of the last node reading each value; graph outputs are read "after" the last node. */
  private readonly lastUse = new Map<string, number>();

  constructor(
    private readonly graph: InterpretedGraph,
    private readonly steps: readonly Step[],
  ) {
    this.constants = new Set(graph.constants.values());
    steps.forEach(({ node }, i) => node.inputs.forEach((name) => name && this.lastUse.set(name, i)));
    for (const o of graph.outputs) this.lastUse.set(o.name, steps.length);
  }

  async run(feeds: Feeds): Promise<Record<string, HostTensor>> {
    const inputs = new Map<string, tf.Tensor>();
    for (const input of this.graph.inputs) {
      const feed = feeds[input.name];
      if (!feed) {
        for (const t of inputs.values()) t.dispose();
        throw new Error(`missing input "${input.name}"`);
      }
      inputs.set(input.name, toTensor(feed));
    }
    // The input tensors are ours: they die after their last reader like any intermediate value.
    const steps = this.execute(inputs, false);
    let next = steps.next();
    try {
      while (!next.done) next = steps.next(await download(next.value));
    } finally {
      // A failed read-back leaves the loop suspended: return() runs its cleanup (a no-op once it has finished).
      steps.return(new Map());
    }
    const outputs = next.value;
    try {
      const result: Record<string, HostTensor> = {};
      for (const o of this.graph.outputs) result[o.name] = await toHost(outputs.get(o.name)!, o.dataType);
      return result;
    } finally {
      for (const v of outputs.values()) if (v.kind === 'tensor' && !this.cached.has(v.tensor)) v.tensor.dispose();
    }
  }

  /**
   * The graph on backend tensors, synchronously, for training (tf.variableGrads needs a synchronous function):
   * the caller's tensors are borrowed, never freed; the outputs are returned as tensors the caller owns. A shape
   * computed at run time is read back with dataSync.
   */
  forward(inputs: Readonly<Record<string, tf.Tensor>>): Record<string, tf.Tensor> {
    const given = new Map<string, tf.Tensor>();
    for (const input of this.graph.inputs) {
      const t = inputs[input.name];
      if (!t) throw new Error(`missing input "${input.name}"`);
      given.set(input.name, t);
    }
    const steps = this.execute(given, true);
    let next = steps.next();
    try {
      while (!next.done) next = steps.next(downloadSync(next.value));
    } finally {
      steps.return(new Map());
    }
    const result: Record<string, tf.Tensor> = {};
    for (const [name, v] of next.value) result[name] = v.kind === 'tensor' ? (v.layout === 'nhwc' ? nhwcToNchw(v.tensor) : v.tensor) : toBackend(v);
    return result;
  }

  /**
   * The node loop shared by run() and forward(): yields each run-time value a kernel needs on the host and
   * resumes with it read back; returns the graph outputs (still held) and frees everything else.
   */
  private *execute(inputs: ReadonlyMap<string, tf.Tensor>, training: boolean): Generator<TensorValue, Map<string, Value>, HostValue> {
    const values = new Map<string, Value>(this.graph.constants);
    // forward() (training) borrows its inputs; run() owns its own.
    const keepAlive = new Set<tf.Tensor>(training ? inputs.values() : []);
    // A tensor can be held by several values (an op may return its input); it is freed when the last one dies.
    const holders = new Map<tf.Tensor, number>();
    const hold = (v: Value): void => {
      if (v.kind === 'tensor') holders.set(v.tensor, (holders.get(v.tensor) ?? 0) + 1);
    };
    const release = (name: string): void => {
      const v = values.get(name);
      if (!v || v.kind !== 'tensor') return;
      const left = (holders.get(v.tensor) ?? 1) - 1;
      holders.set(v.tensor, left);
      if (left === 0 && !this.cached.has(v.tensor) && !keepAlive.has(v.tensor)) v.tensor.dispose();
      values.delete(name);
    };
    const outputs = new Map<string, Value>();
    try {
      for (const [name, tensor] of inputs) {
        const v: Value = { kind: 'tensor', tensor, layout: 'onnx' };
        values.set(name, v);
        hold(v);
      }
      for (const [i, { node, kernel, attrs }] of this.steps.entries()) {
        const inputs = node.inputs.map((name) => (name === '' ? undefined : values.get(name)));
        for (const h of kernel.hostInputs ?? []) {
          const v = inputs[h];
          // A shape or size computed at run time: read it back before the kernel needs it as numbers.
          if (v && v.kind === 'tensor') inputs[h] = yield v;
        }
        const ctx = new OpContext(node, this.graph.opset, trimTrailing(inputs), this.sessionCache, attrs, training);
        let outputs: Value[] = this.folded.get(i) ?? [];
        if (!this.folded.has(i)) {
          tf.tidy(() => {
            outputs = kernel.run(ctx);
            return outputs.flatMap((v) => (v.kind === 'tensor' ? [v.tensor] : []));
          });
          const constantIn = inputs.every((v) => v === undefined || (v.kind === 'host' && this.constants.has(v)));
          if (constantIn && outputs.every((v) => v.kind === 'host')) {
            this.folded.set(i, outputs);
            for (const v of outputs) this.constants.add(v as HostValue);
          }
        }
        node.outputs.forEach((name, k) => {
          const v = outputs[k];
          if (name === '' || !v) return;
          values.set(name, v);
          hold(v);
        });
        // Outputs nobody reads (e.g. an unused Split part) die at once.
        for (const name of new Set([...node.inputs, ...node.outputs])) if (name && (this.lastUse.get(name) ?? -1) <= i) release(name);
      }
      for (const o of this.graph.outputs) {
        const v = values.get(o.name);
        if (!v) throw new Error(`the graph never produced output "${o.name}"`);
        outputs.set(o.name, v);
        if (v.kind === 'tensor') keepAlive.add(v.tensor);
      }
      return outputs;
    } finally {
      for (const name of [...values.keys()]) release(name);
    }
  }

  /** Built on first use (inside a kernel's tidy, hence tf.keep) and kept for the session. */
  private keep(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.cache.get(key);
    if (!t) {
      t = tf.keep(make());
      this.cache.set(key, t);
      this.cached.add(t);
    }
    return t;
  }

  dispose(): void {
    for (const t of this.cache.values()) t.dispose();
    this.cache.clear();
    this.cached.clear();
  }
}

function toBackend(v: HostValue): tf.Tensor {
  const data = v.dtype === 'int' ? Int32Array.from(v.data, clampInt32) : v.data;
  return tf.tensor(data as Float32Array | Int32Array | Uint8Array, [...v.dims], tfType(v.dtype));
}

/** Kernels see exactly the inputs given: trailing skipped optional inputs are dropped. */
function trimTrailing(inputs: (Value | undefined)[]): (Value | undefined)[] {
  let end = inputs.length;
  while (end > 0 && inputs[end - 1] === undefined) end--;
  return inputs.slice(0, end);
}

/** Slice's INT64_MAX and similar sentinels, brought into tfjs's int32. */
function clampInt32(x: number): number {
  return Math.max(-2147483648, Math.min(2147483647, x));
}

/** A feed as a tfjs tensor (tfjs has no int64 or float64: int32 and float32). */
export function toTensor(feed: HostTensor): tf.Tensor {
  const dims = [...feed.dims];
  switch (feed.dataType) {
    case 'float32':
      return tf.tensor(feed.data as Float32Array, dims, 'float32');
    case 'float64':
      return tf.tensor(Float32Array.from(feed.data as Float64Array), dims, 'float32');
    case 'bool':
      return tf.tensor(feed.data as Uint8Array, dims, 'bool');
    case 'int64':
      return tf.tensor(Int32Array.from(feed.data as BigInt64Array, (x) => clampInt32(Number(x))), dims, 'int32');
    default:
      return tf.tensor(Int32Array.from(feed.data as ArrayLike<number>), dims, 'int32');
  }
}

/** Reads a value back to the host (in ONNX layout). */
async function download(v: TensorValue): Promise<HostValue> {
  const t = v.layout === 'nhwc' ? tf.tidy(() => nhwcToNchw(v.tensor)) : v.tensor;
  const data = await t.data();
  if (t !== v.tensor) t.dispose();
  return toHostValue(t, data);
}

function downloadSync(v: TensorValue): HostValue {
  const t = v.layout === 'nhwc' ? tf.tidy(() => nhwcToNchw(v.tensor)) : v.tensor;
  const data = t.dataSync();
  if (t !== v.tensor) t.dispose();
  return toHostValue(t, data);
}

function toHostValue(t: tf.Tensor, data: tf.TypedArray | string[]): HostValue {
  if (t.dtype === 'float32') return hostValue('float32', t.shape, data as Float32Array);
  if (t.dtype === 'bool') return hostValue('bool', t.shape, Uint8Array.from(data as ArrayLike<number>));
  return hostValue('int', t.shape, Float64Array.from(data as ArrayLike<number>));
}

/** A graph output in the type the model declares (tfjs has no int64: int32 values are widened back). */
async function toHost(v: Value, onnxType: number): Promise<HostTensor> {
  let dims: number[];
  let data: ArrayLike<number>;
  if (v.kind === 'host') {
    dims = [...v.dims];
    data = v.data;
  } else {
    const t = v.layout === 'nhwc' ? tf.tidy(() => nhwcToNchw(v.tensor)) : v.tensor;
    dims = [...t.shape];
    data = (await t.data()) as ArrayLike<number>;
    if (t !== v.tensor) t.dispose();
  }
  switch (onnxType) {
    case D.INT64:
      return { dataType: 'int64', dims, data: BigInt64Array.from(Array.from(data), (x) => BigInt(x)) };
    case D.INT32:
      return { dataType: 'int32', dims, data: Int32Array.from(data) };
    case D.BOOL:
      return { dataType: 'bool', dims, data: Uint8Array.from(data) };
    default:
      return { dataType: 'float32', dims, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  }
}
