import * as tf from '@tensorflow/tfjs-core';
import { Attributes } from './attributes.js';
import type { FusedNode, GraphNode } from './graph.js';
import type { HostValue } from './host-value.js';
import { nchwToNhwc, nhwcToNchw, onnxDims, type Layout } from './layout.js';

/** A value on the tfjs backend. `layout` says whether a 4-D value is held NCHW (as ONNX) or NHWC. */
export interface TensorValue {
  readonly kind: 'tensor';
  readonly tensor: tf.Tensor;
  readonly layout: Layout;
}

/** What flows along the graph's edges: a backend tensor, or a constant still in host memory. */
export type Value = TensorValue | HostValue;

export function tensorValue(tensor: tf.Tensor, layout: Layout = 'onnx'): TensorValue {
  return { kind: 'tensor', tensor, layout };
}

/** ONNX dims of any value, whatever its layout. */
export function dimsOf(v: Value): number[] {
  return v.kind === 'host' ? [...v.dims] : onnxDims(v.tensor.shape, v.layout);
}

/**
 * One ONNX op implemented with tfjs-core ops (after onnxruntime-web's jsep/webgpu/ops: one kernel per op or
 * small family, looked up in one table).
 */
export interface OpKernel {
  /**
   * Inputs the kernel reads as numbers on the host (shapes, axes, sizes, clip bounds). They are constants in
   * almost every graph; when one is computed at run time it is downloaded before the kernel runs.
   */
  readonly hostInputs?: readonly number[];
  /** Static check of the node's attributes: a reason if this kernel cannot honour them, else undefined. */
  check?(node: GraphNode, attrs: Attributes, opset: number): string | undefined;
  /** Runs inside tf.tidy: every tensor it creates and does not return is freed. */
  run(ctx: OpContext): Value[];
}

/** Tensors a session keeps across runs: uploaded constants and tensors derived from them. */
export interface SessionCache {
  /** A host value as a backend tensor: kept for the session if it is a constant, else freed with the kernel's scope. */
  upload(v: HostValue, name: string): tf.Tensor;
  isConstant(v: HostValue): boolean;
  memo(key: string, make: () => tf.Tensor): tf.Tensor;
}

/** Everything a kernel sees of one node while it runs. */
export class OpContext {
  readonly attrs: Attributes;

  constructor(
    /** The node, with the activation folded into it if any (only Conv and Gemm get one). */
    readonly node: FusedNode,
    readonly opset: number,
    private readonly inputs: readonly (Value | undefined)[],
    private readonly session: SessionCache,
    attrs: Attributes,
    /** Running under autodiff (GraphInterpreter.forward): kernels avoid fused ops whose gradients are eager. */
    readonly training = false,
  ) {
    this.attrs = attrs;
  }

  /** Whether optional input i was given (present and not the empty name). */
  has(i: number): boolean {
    return this.inputs[i] !== undefined;
  }

  get inputCount(): number {
    return this.inputs.length;
  }

  value(i: number): Value {
    const v = this.inputs[i];
    if (!v) throw new KernelError(this.node, `input ${i} is required`);
    return v;
  }

  /** Whether input i is a constant (an initializer or a Constant node's output), the same on every run. */
  isConstant(i: number): boolean {
    const v = this.inputs[i];
    return v?.kind === 'host' && this.session.isConstant(v);
  }

  /** Input i as a backend tensor in ONNX layout. */
  tensor(i: number): tf.Tensor {
    const v = this.value(i);
    if (v.kind === 'host') return this.session.upload(v, this.node.inputs[i]);
    return v.layout === 'nhwc' ? nhwcToNchw(v.tensor) : v.tensor;
  }

  /** 4-D input i as an NHWC backend tensor. */
  nhwc(i: number): tf.Tensor {
    const v = this.value(i);
    if (v.kind === 'tensor' && v.layout === 'nhwc') return v.tensor;
    const t = this.tensor(i);
    if (t.rank !== 4) throw new KernelError(this.node, `input ${i} must be 4-D (NCHW), got shape [${t.shape}]`);
    return nchwToNhwc(t);
  }

  /** Input i in host memory (listed in the kernel's hostInputs, so it was downloaded if it was computed). */
  host(i: number): HostValue {
    const v = this.value(i);
    if (v.kind !== 'host') throw new KernelError(this.node, `input ${i} must be known before the op runs`);
    return v;
  }

  hostNumbers(i: number): number[] {
    return Array.from(this.host(i).data);
  }

  /**
   * A tensor derived only from constants (a conv filter in tfjs layout, folded batch-norm scales), built once
   * per session and kept across runs. Callers check isConstant() on the inputs it reads.
   */
  memo(key: string, make: () => tf.Tensor): tf.Tensor {
    return this.session.memo(`${this.node.name}/${key}`, make);
  }
}

/** A kernel met an input it cannot handle at run time; the session reports it as an EngineRunError. */
export class KernelError extends Error {
  constructor(node: GraphNode, message: string) {
    super(`node "${node.name}" (${node.opType}): ${message}`);
  }
}

/** Normalises a possibly negative ONNX axis against a rank. */
export function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
