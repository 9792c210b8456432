import type { OpKernel } from '../kernel.js';
import * as binary from './binary.js';
import { batchNormalization } from './batch-norm.js';
import { concat } from './concat.js';
import { cast, constant, constantOfShape } from './constant.js';
import { conv } from './conv.js';
import { expand } from './expand.js';
import { gather } from './gather.js';
import { gemm, matMul } from './matmul.js';
import { nonZero } from './nonzero.js';
import { pad } from './pad.js';
import { averagePool, globalAveragePool, globalMaxPool, maxPool } from './pool.js';
import { range } from './range.js';
import { reduceMax, reduceMean, reduceMin, reduceProd, reduceSum } from './reduce.js';
import { flatten, reshape, squeeze, unsqueeze } from './reshape.js';
import { resize } from './resize.js';
import { gatherND, scatterND } from './scatter-gather-nd.js';
import { shape, size } from './shape.js';
import { slice } from './slice.js';
import { logSoftmax, softmax } from './softmax.js';
import { split } from './split.js';
import { transpose } from './transpose.js';
import * as unary from './unary.js';

/** [ONNX op type (default domain), kernel]: the one list of what this engine runs. */
const ENTRIES: ReadonlyArray<readonly [string, OpKernel]> = [
  ['Conv', conv],
  ['MaxPool', maxPool],
  ['AveragePool', averagePool],
  ['GlobalAveragePool', globalAveragePool],
  ['GlobalMaxPool', globalMaxPool],
  ['BatchNormalization', batchNormalization],
  ['MatMul', matMul],
  ['Gemm', gemm],
  ['Add', binary.add],
  ['Sub', binary.sub],
  ['Mul', binary.mul],
  ['Div', binary.div],
  ['Pow', binary.pow],
  ['Max', binary.max],
  ['Min', binary.min],
  ['Sum', binary.sum],
  ['Equal', binary.equal],
  ['Greater', binary.greater],
  ['Less', binary.less],
  ['PRelu', binary.prelu],
  ['Relu', unary.relu],
  ['LeakyRelu', unary.leakyRelu],
  ['Elu', unary.elu],
  ['Sigmoid', unary.sigmoid],
  ['HardSigmoid', unary.hardSigmoid],
  ['HardSwish', unary.hardSwish],
  ['Tanh', unary.tanh],
  ['Exp', unary.exp],
  ['Log', unary.log],
  ['Sqrt', unary.sqrt],
  ['Abs', unary.abs],
  ['Neg', unary.neg],
  ['Reciprocal', unary.reciprocal],
  ['Floor', unary.floor],
  ['Ceil', unary.ceil],
  ['Erf', unary.erf],
  ['Sin', unary.sin],
  ['Cos', unary.cos],
  ['Softplus', unary.softplus],
  ['Not', unary.not],
  ['Identity', unary.identity],
  ['Dropout', unary.dropout],
  ['Clip', unary.clip],
  ['Softmax', softmax],
  ['LogSoftmax', logSoftmax],
  ['Reshape', reshape],
  ['Flatten', flatten],
  ['Squeeze', squeeze],
  ['Unsqueeze', unsqueeze],
  ['Transpose', transpose],
  ['Shape', shape],
  ['Size', size],
  ['Concat', concat],
  ['Split', split],
  ['Slice', slice],
  ['Gather', gather],
  ['GatherND', gatherND],
  ['ScatterND', scatterND],
  ['NonZero', nonZero],
  ['Expand', expand],
  ['Range', range],
  ['Constant', constant],
  ['ConstantOfShape', constantOfShape],
  ['Cast', cast],
  ['Resize', resize],
  ['Pad', pad],
  ['ReduceMean', reduceMean],
  ['ReduceSum', reduceSum],
  ['ReduceMax', reduceMax],
  ['ReduceMin', reduceMin],
  ['ReduceProd', reduceProd],
];

/** Built from ENTRIES; registering an op twice is a programming error and fails loudly at import. */
export const KERNELS: ReadonlyMap<string, OpKernel> = (() => {
  const table = new Map<string, OpKernel>();
  for (const [op, kernel] of ENTRIES) {
    if (table.has(op)) throw new Error(`tfjs kernel for ${op} is registered twice`);
    table.set(op, kernel);
  }
  return table;
})();

/** The kernel for a node, or undefined when this engine has none (ops outside the default domain never have one). */
export function resolveKernel(opType: string, domain: string): OpKernel | undefined {
  return domain === '' ? KERNELS.get(opType) : undefined;
}

/** Sorted op types this engine runs, for the docs' coverage table. */
export function supportedOps(): string[] {
  return [...KERNELS.keys()].sort();
}
