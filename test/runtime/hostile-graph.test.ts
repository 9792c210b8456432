/**
 * Hostile headers (issue 16): a file whose header was changed and re-hashed passes every format check, so the
 * runtime checks the graph itself before any engine sees it (runtime/onnx/check-graph.ts). The patterns that
 * crashed or exhausted the process (a pooling kernel larger than its input: onnxruntime SIGFPE; a damaged attribute
 * blob: protobufjs' untyped RangeError; conv pads of a million: 5.9 GB and seconds of blocking; a Resize scale,
 * Pad pads, Tile repeats or Expand shape that sizes an output past memory) are each a one-line
 * LrmCorruptHeaderError naming the node, from load() in well under a second with no big allocation; every real
 * model passes, and its inferred output shapes are the ones it declares.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerInspect } from '../../compiler/cli/inspect.js';
import { compileOnnx } from '../../compiler/compile.js';
import { importOnnx, type ImportedModel } from '../../compiler/import/onnx.js';
import { normaliseOnnx } from '../../compiler/import/normalise.js';
import { DataType, LrmCorruptHeaderError, readLrm, writeLrm, type ModelHeader, type NodeDef } from '../../formats/index.js';
import type { LrmHeaderInput } from '../../formats/write.js';
import { checkGraph, MAX_TENSOR_ELEMENTS, tensorCap } from '../../runtime/onnx/check-graph.js';
import { decodeValues, payloadConstants } from '../../runtime/onnx/constant-values.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { inferShapes } from '../../runtime/onnx/shape-inference.js';
import { load } from '../../runtime/node.js';

const MODELS = join(import.meta.dirname, '../../../shared/data/models');
interface Compiled {
  lrm: Uint8Array;
  header: ModelHeader;
}
const compiled = new Map<string, Compiled>();

beforeAll(async () => {
  for (const f of ['mnist-cnn-pytorch.onnx', 'yolo-fastestv2-coco-352.onnx', 'silero_vad_16k_op15.onnx']) {
    compiled.set(f, await compileOnnx(new Uint8Array(readFileSync(join(MODELS, f))), { tiers: [1] }));
  }
}, 120_000);

/** The file with its header (and payload) edited and re-hashed: valid for the format reader. */
async function rehashed(model: string, edit: (h: LrmHeaderInput) => void, editPayload?: (payload: Uint8Array, h: ModelHeader) => void): Promise<Uint8Array> {
  const { lrm, header } = compiled.get(model)!;
  const h = structuredClone(header) as LrmHeaderInput;
  edit(h);
  const payload = lrm.slice(lrm.length - header.payloadLength);
  editPayload?.(payload, header);
  const file = await writeLrm(h, payload);
  await readLrm(file); // the format checks pass
  return file;
}

const MNIST = 'mnist-cnn-pytorch.onnx';
const YOLO = 'yolo-fastestv2-coco-352.onnx';
const SILERO = 'silero_vad_16k_op15.onnx';
const node = (h: LrmHeaderInput, name: string) => h.graph.nodes.find((n) => n.name === name)!;
const setInts = (h: LrmHeaderInput, nodeName: string, attr: string, value: number[]) => {
  const a = node(h, nodeName).attributes.find((x) => x.name === attr)!;
  Object.assign(a, { kind: 'ints', value: value.map(BigInt) });
};
/** A Constant node's `value` set to an int64 vector, as an exporter writes it. */
const setConstant = (h: LrmHeaderInput, nodeName: string, values: number[]) => {
  const t = { dims: [values.length], dataType: DataType.INT64, int64Data: values };
  const bytes = onnx.AttributeProto.encode({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t }).finish();
  node(h, nodeName).attributes = [{ name: 'value', kind: 'onnx', value: bytes }];
};
/** Yolo's Resize scales (float32 [4], an initializer in the dense section) overwritten in the payload. */
const resizeScales = (scales: number[]) => (payload: Uint8Array, h: ModelHeader) => {
  const t = h.graph.initializers.find((x) => x.name === '1002')!;
  expect(t.storage).toBeUndefined();
  payload.set(new Uint8Array(new Float32Array(scales).buffer), t.range.offset);
};
/** `op` appended after mnist's last Gemm, its second input a Constant of `values`, its output the graph's. */
const appendOp = (op: string, values: number[]) => (h: LrmHeaderInput) => {
  const constant: NodeDef = { name: 'hostile_constant', opType: 'Constant', domain: '', inputs: [], outputs: ['hostile_values'], attributes: [{ name: 'value_ints', kind: 'ints', value: values.map(BigInt) }] };
  const added: NodeDef = { name: 'hostile', opType: op, domain: '', inputs: ['output', 'hostile_values'], outputs: ['hostile_out'], attributes: [] };
  h.graph.nodes.push(constant, added);
  h.graph.outputs[0]!.name = 'hostile_out';
};

describe('re-hashed hostile headers are refused before any engine runs', () => {
  const cases: Array<[string, string, (h: LrmHeaderInput) => void, RegExp, ((p: Uint8Array, h: ModelHeader) => void)?]> = [
    ['a pooling kernel larger than its input', MNIST, (h) => setInts(h, '/pool_1/MaxPool', 'kernel_shape', [19, 19]), /node 5 \("\/pool_1\/MaxPool", MaxPool\) has a 19×19 kernel \(dilated 19\) larger than its 14×14 input \(14 padded\)/],
    ['a damaged attribute blob', MNIST, (h) => Object.assign(node(h, '/Constant').attributes[0]!, { value: new Uint8Array([0x0a, 0xff, 0xff, 0x01]) }), /node 6 \("\/Constant", Constant\) attribute "value" is not a readable ONNX attribute/],
    ['conv pads of a million', MNIST, (h) => setInts(h, '/conv1/Conv', 'pads', [1, 1048577, 1, 1]), /node 0 \("\/conv1\/Conv", Conv\) has pads 1048577; each must be 0 to 4096/],
    ['a group that does not match the channels', MNIST, (h) => Object.assign(node(h, '/conv2/Conv').attributes.find((a) => a.name === 'group')!, { value: 2n }), /has 32 input channels, but its weight takes 32 per group × group 2/],
    ['a Reshape shape of 2^32 values', MNIST, (h) => setConstant(h, '/Constant', [65536, 65536]), /node 7 \("\/Reshape", Reshape\) reshapes \[1, 64, 7, 7\] \(3136 values\) to \[65536, 65536\] \(4294967296 values\)/],
    ['a Resize scale of 10^5 (an initializer in the dense section)', YOLO, () => {}, /\("Resize_240", Resize\) would output \[1, 192, 1100000, 1100000\], 232320000000000 values \(more than the limit of 268435456 \(2\^28\) values for one tensor\)/, resizeScales([1, 1, 1e5, 1e5])],
    ['Pad pads of 2^30 on an input of unknown length', SILERO, (h) => setConstant(h, 'Constant_50', [0, 2 ** 30]), /\("\/model\/stft\/padding\/Pad", Pad\) would output at least \[1, 1073741825\]/],
    ['Tile repeats of a million', MNIST, appendOp('Tile', [1_000_000, 1_000_000]), /\("hostile", Tile\) would output \[1000000, 10000000\], 10000000000000 values/],
    ['an Expand to 10^12 values', MNIST, appendOp('Expand', [1_000_000, 1_000_000, 1]), /\("hostile", Expand\) would output \[1000000, 1000000, 10\]/],
  ];
  it.each(cases)('%s: a one-line LrmCorruptHeaderError from load() within a second, no big allocation', async (_, model, edit, message, editPayload) => {
    const file = await rehashed(model, edit, editPayload);
    const rss = process.memoryUsage().rss;
    const t = performance.now();
    const e = await load(file).then(() => undefined, (err: unknown) => err);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).not.toContain('\n');
  });

  it('lowrank inspect reads the constants too: the same Resize scale is refused there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    try {
      const path = join(dir, 'yolo.lrm');
      writeFileSync(path, await rehashed(YOLO, () => {}, resizeScales([1, 1, 1e5, 1e5])));
      const program = new Command().exitOverride();
      registerInspect(program);
      await expect(program.parseAsync(['inspect', path], { from: 'user' })).rejects.toThrow(/yolo\.lrm has an invalid header: node 239 \("Resize_240", Resize\) would output \[1, 192, 1100000, 1100000\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the cap follows the app\'s memoryMb: one tensor at most the budget as float32', async () => {
    expect(tensorCap().maxElements).toBe(MAX_TENSOR_ELEMENTS);
    expect(tensorCap(64).maxElements).toBe(16 * 2 ** 20);
    expect(tensorCap(Number.NaN).maxElements).toBe(MAX_TENSOR_ELEMENTS); // a malformed budget is a LoadOptionError later
    // A Resize scale of 60: [1, 192, 660, 660], 83.6 M values: under 2^28, over what 64 MB holds as float32.
    const file = await rehashed(YOLO, () => {}, resizeScales([1, 1, 60, 60]));
    const { header, payload } = await readLrm(file);
    expect(() => checkGraph(header, 'yolo.lrm', { constants: payloadConstants(header.graph.initializers, payload) })).not.toThrow();
    const e = await load(file, { memoryMb: 64 }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(/\("Resize_240", Resize\) would output \[1, 192, 660, 660\], 83635200 values \(more than the 16777216 float32 values that memoryMb 64 holds\) \(the file is damaged .*raise memoryMb if it really does\)/);
    const session = await load(compiled.get(YOLO)!.lrm, { memoryMb: 64 }); // the original fits the same budget
    await session.release();
  });
});

/** Every shared model's imported graph with its initializers' values, as the runtime sees a compiled one. */
function imported(file: string): { model: ImportedModel; header: ModelHeader; constants: (name: string) => number[] | undefined } {
  const model = importOnnx(normaliseOnnx(new Uint8Array(readFileSync(join(MODELS, file))), file).bytes, file);
  const byName = new Map(model.initializers.map((t) => [t.name, t]));
  const constants = (name: string) => {
    const t = byName.get(name);
    return t && decodeValues(t.dataType, t.data);
  };
  const header = { graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers: model.initializers }, layers: [] } as unknown as ModelHeader;
  return { model, header, constants };
}

describe('no false alarms on real models', () => {
  const files = [...readdirSync(MODELS).filter((f) => f.endsWith('.onnx')), 'use-lite/use_lite.onnx'];
  /**
   * What the deeper inference still leaves unknown. silero: its input is [batch, sequence] and only a symbolic batch
   * is taken as 1, so everything fed by the audio is unknown (its shape arithmetic, Pad's pads included, is folded).
   * use-lite: the sparse batch goes through NonZero, whose size is data-dependent, so almost everything after it.
   */
  const PARTLY_UNKNOWN = new Set(['silero_vad_16k_op15.onnx', 'use-lite/use_lite.onnx']);

  it('every shared model passes with its constants, and its inferred outputs are the shapes it declares', () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
    for (const f of files) {
      const { model, header, constants } = imported(f);
      expect(() => checkGraph(header, f, { constants }), f).not.toThrow();
      expect(() => checkGraph(header, f), f).not.toThrow();
      const known = inferShapes(header.graph, [], constants, { fail: (_, n, p) => expect.fail(`${f}: ${n.name} ${p}`), size: () => {} });
      const unknown = model.nodes.filter((n) => !known.get(n.outputs[0]!)?.shape).map((n) => n.opType);
      if (PARTLY_UNKNOWN.has(f)) {
        expect(unknown.length, f).toBeLessThan(model.nodes.length);
        continue;
      }
      expect(unknown, f).toEqual([]);
      for (const o of model.outputs) expect(known.get(o.name)?.shape, `${f} ${o.name}`).toEqual(o.shape.map((d) => (typeof d === 'number' ? d : 1)));
    }
  });

  it('compiled files pass the check with the constants read from their payload (as load() and inspect run it), and load', async () => {
    const small = files.filter((f) => statSync(join(MODELS, f)).size < 4_000_000);
    for (const f of small) {
      const { lrm, header } = compiled.get(f) ?? (await compileOnnx(new Uint8Array(readFileSync(join(MODELS, f))), { tiers: [1] }));
      const payload = lrm.subarray(lrm.length - header.payloadLength);
      expect(() => checkGraph(header, f, { constants: payloadConstants(header.graph.initializers, payload) }), f).not.toThrow();
    }
    for (const f of [MNIST, YOLO]) await (await load(compiled.get(f)!.lrm)).release();
  }, 60_000);
});
