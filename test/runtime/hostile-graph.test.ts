/**
 * Hostile headers (issue 16): a file whose header was changed and re-hashed passes every format check, so the
 * runtime checks the graph itself before any engine sees it (runtime/onnx/check-graph.ts). The three patterns that
 * crashed or exhausted the process (a pooling kernel larger than its input: onnxruntime SIGFPE; a damaged attribute
 * blob: protobufjs' untyped RangeError; conv pads of a million: 5.9 GB and seconds of blocking) are each a one-line
 * LrmCorruptHeaderError naming the node, from load() in well under a second; the original file passes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { normaliseOnnx } from '../../compiler/import/normalise.js';
import { LrmCorruptHeaderError, readLrm, writeLrm, type ModelHeader } from '../../formats/index.js';
import type { LrmHeaderInput } from '../../formats/write.js';
import { checkGraph } from '../../runtime/onnx/check-graph.js';
import { load } from '../../runtime/node.js';

const MODEL = join(import.meta.dirname, '../../../shared/data/models/mnist-cnn-pytorch.onnx');
let lrm: Uint8Array;
let header: ModelHeader;

beforeAll(async () => {
  ({ lrm, header } = await compileOnnx(new Uint8Array(readFileSync(MODEL)), { tiers: [1] }));
}, 120_000);

/** The file with its header edited and re-hashed: valid for the format reader. */
async function rehashed(edit: (h: LrmHeaderInput) => void): Promise<Uint8Array> {
  const h = structuredClone(header) as LrmHeaderInput;
  edit(h);
  const file = await writeLrm(h, lrm.subarray(lrm.length - header.payloadLength));
  await readLrm(file); // the format checks pass
  return file;
}

const node = (h: LrmHeaderInput, name: string) => h.graph.nodes.find((n) => n.name === name)!;
const setInts = (h: LrmHeaderInput, nodeName: string, attr: string, value: number[]) => {
  const a = node(h, nodeName).attributes.find((x) => x.name === attr)!;
  Object.assign(a, { kind: 'ints', value: value.map(BigInt) });
};

describe('re-hashed hostile headers are refused before any engine runs', () => {
  const cases: Array<[string, (h: LrmHeaderInput) => void, RegExp]> = [
    ['a pooling kernel larger than its input', (h) => setInts(h, '/pool_1/MaxPool', 'kernel_shape', [19, 19]), /node 5 \("\/pool_1\/MaxPool", MaxPool\) has a 19×19 kernel \(dilated 19\) larger than its 14×14 input \(14 padded\)/],
    ['a damaged attribute blob', (h) => Object.assign(node(h, '/Constant').attributes[0]!, { value: new Uint8Array([0x0a, 0xff, 0xff, 0x01]) }), /node 6 \("\/Constant", Constant\) attribute "value" is not a readable ONNX attribute/],
    ['conv pads of a million', (h) => setInts(h, '/conv1/Conv', 'pads', [1, 1048577, 1, 1]), /node 0 \("\/conv1\/Conv", Conv\) has pads 1048577; each must be 0 to 4096/],
    ['a group that does not match the channels', (h) => Object.assign(node(h, '/conv2/Conv').attributes.find((a) => a.name === 'group')!, { value: 2n }), /has 32 input channels, but its weight takes 32 per group × group 2/],
  ];
  it.each(cases)('%s: a one-line LrmCorruptHeaderError from load() within a second', async (_, edit, message) => {
    const file = await rehashed(edit);
    const t = performance.now();
    const e = await load(file).then(() => undefined, (err: unknown) => err);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).not.toContain('\n');
  });

  it('the original graph passes, and so does every shared model\'s (no false alarms)', async () => {
    expect(() => checkGraph(header, 'mnist-cnn.lrm')).not.toThrow();
    const session = await load(lrm);
    await session.release();
    const dir = join(import.meta.dirname, '../../../shared/data/models');
    const files = [...readdirSync(dir).filter((f) => f.endsWith('.onnx')), 'use-lite/use_lite.onnx'];
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const model = importOnnx(normaliseOnnx(new Uint8Array(readFileSync(join(dir, f))), f).bytes, f);
      const graphOnly = { graph: { inputs: model.inputs, outputs: model.outputs, nodes: model.nodes, initializers: model.initializers }, layers: [] } as unknown as ModelHeader;
      expect(() => checkGraph(graphOnly, f), f).not.toThrow();
    }
  });
});
