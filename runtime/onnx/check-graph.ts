/**
 * Semantic checks of a header's graph before any engine sees it. The format reader proves the header is what was
 * written (hash, offsets, dims, node order); it cannot prove the graph is sane, and a header that was changed and
 * re-hashed reaches the engine: onnxruntime then aborts the whole process on a pooling kernel larger than its
 * input (SIGFPE), allocates gigabytes for pads of a million or a Resize scale of 10^5, and protobufjs throws
 * untyped errors on a damaged attribute blob. So: every spatial op's attributes within the ONNX spec's ranges and a
 * bound, every serialized attribute decodable, and shape inference (shape-inference.ts) that refuses a kernel
 * larger than its padded input and any tensor past the cap: 2^28 values, or with the app's memoryMb as many
 * float32 values as the budget holds. `load()` runs it on the header alone (before any tier is fetched) and again
 * with the values of small constants once the dense section is loaded; `lowrank inspect` with them. Each failure is
 * an LrmCorruptHeaderError naming the node.
 */
import { LrmCorruptHeaderError } from '../../formats/errors.js';
import { intAttr, intsAttr } from '../../formats/attributes.js';
import type { ModelHeader, NodeDef } from '../../formats/model.js';
import { elementCount } from './constant-folding.js';
import type { ConstantLookup } from './constant-values.js';
import { onnx } from './proto.js';
import { inferShapes } from './shape-inference.js';

/** Largest kernel, stride, dilation or pad: far beyond any real network, far below what exhausts memory. */
export const MAX_SPATIAL_ATTRIBUTE = 4096;
/** Largest tensor shape inference lets through without a memory budget: 2^28 elements, 1 GiB as float32. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

const SPATIAL_OPS = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool']);
const DAMAGED = 'the graph cannot run: recompile the model or ask its supplier for a new copy';

export interface GraphCheckOptions {
  /** Values of small constants (constant-values.ts): shapes after Reshape, Resize, Pad, Tile… become known. */
  constants?: ConstantLookup;
  /** The app's memory budget (LoadOptions.memoryMb): no single tensor may exceed it as float32. */
  memoryMb?: number;
}

/** The largest tensor allowed, what the limit is and what to do about a tensor past it. */
export function tensorCap(memoryMb?: number): { maxElements: number; limit: string; fix: string } {
  // A malformed budget is the app's mistake, reported by the tier choice as a LoadOptionError: not a reason to refuse the file.
  if (memoryMb === undefined || !(memoryMb > 0 && Number.isFinite(memoryMb))) return { maxElements: MAX_TENSOR_ELEMENTS, limit: `the limit of ${MAX_TENSOR_ELEMENTS} (2^28) values for one tensor`, fix: DAMAGED };
  const maxElements = Math.floor((memoryMb * 1024 * 1024) / 4);
  return {
    maxElements,
    limit: `the ${maxElements} float32 values that memoryMb ${memoryMb} holds`,
    fix: `the file is damaged (recompile the model or ask its supplier for a new copy), or the model needs more memory than memoryMb ${memoryMb}: raise memoryMb if it really does`,
  };
}

/** Throws LrmCorruptHeaderError for the first node whose attributes or inferred shapes are impossible. */
export function checkGraph(header: ModelHeader, fileName: string, options: GraphCheckOptions = {}): void {
  const fail = (i: number, n: NodeDef, problem: string, fix = DAMAGED): never => {
    throw new LrmCorruptHeaderError(fileName, `node ${i} ("${n.name}", ${n.opType}) ${problem}`, fix);
  };
  header.graph.nodes.forEach((n, i) => {
    for (const a of n.attributes) {
      if (a.kind !== 'onnx') continue;
      try {
        onnx.AttributeProto.decode(a.value);
      } catch {
        fail(i, n, `attribute "${a.name}" is not a readable ONNX attribute`);
      }
    }
    if (SPATIAL_OPS.has(n.opType)) checkSpatialAttributes(n, (p) => fail(i, n, p));
  });
  const cap = tensorCap(options.memoryMb);
  const size = (i: number, n: NodeDef, shape: number[], atLeast: boolean): void => {
    const dims = atLeast ? shape.map((d) => Math.max(d, 0)) : shape;
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(i, n, `would output shape [${shape.join(', ')}]`);
    const elements = elementCount(dims);
    if (elements > cap.maxElements) fail(i, n, `would output ${atLeast ? 'at least ' : ''}[${dims.join(', ')}], ${elements} values (more than ${cap.limit})`, cap.fix);
  };
  const weights = header.layers.map((l) => ({ name: l.weight, dims: l.weightDims }));
  inferShapes(header.graph, weights, options.constants, { fail, size });
}

function checkSpatialAttributes(n: NodeDef, fail: (problem: string) => never): void {
  const ranges: Array<[string, number]> = [['kernel_shape', 1], ['strides', 1], ['dilations', 1], ['pads', 0], ['output_padding', 0]];
  for (const [name, min] of ranges) {
    const v = intsAttr(n, name);
    const bad = v?.find((x) => !Number.isSafeInteger(x) || x < min || x > MAX_SPATIAL_ATTRIBUTE);
    if (bad !== undefined) fail(`has ${name} ${bad}; each must be ${min} to ${MAX_SPATIAL_ATTRIBUTE}`);
  }
  const kernel = intsAttr(n, 'kernel_shape');
  if (n.opType !== 'Conv' && n.opType !== 'ConvTranspose' && !kernel) fail('has no kernel_shape');
  const rank = kernel?.length;
  if (rank !== undefined) {
    for (const [name, length] of [['strides', rank], ['dilations', rank], ['pads', 2 * rank]] as const) {
      const v = intsAttr(n, name);
      if (v && v.length !== length) fail(`has ${v.length} ${name} for a ${rank}-D kernel (expected ${length})`);
    }
  }
  const group = intAttr(n, 'group', 1);
  if (!Number.isSafeInteger(group) || group < 1) fail(`has group ${group}; it must be at least 1`);
}
