/**
 * Float16 graphs (runtime/onnx/half-precision.ts) and the `precision` load option (runtime/engines/ort-precision.ts).
 * The conversion is checked where it can run here: onnxruntime's CPU provider runs a float16 graph (inserting casts
 * where it has no float16 kernel), so its outputs show what float16 weights and activations cost on real inputs.
 * WebGPU with `shader-f16` ('auto' picks float16 there) needs a GPU that has it: SwiftShader has not, so the
 * browser tests see 'auto' stay float32 (test/browser/).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { openDataset } from '../../compiler/data/spec.js';
import { importOnnx } from '../../compiler/import/onnx.js';
import { EngineUnavailableError } from '../../runtime/errors.js';
import { ortNodeCpu } from '../../runtime/engines/ort-node-cpu.js';
import { ortPrecision } from '../../runtime/engines/ort-precision.js';
import { halfPrecisionBlocker, toHalfPrecision } from '../../runtime/onnx/half-precision.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { load } from '../../runtime/node.js';
import type { Feeds } from '../../runtime/tensor.js';

const DATA = join(import.meta.dirname, '../../../shared/data');
const model = (name: string) => new Uint8Array(readFileSync(join(DATA, 'models', name)));
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Runs both models on the feeds with the CPU engine: relative squared error of the first output, and top-1 agreement per row. */
async function compare(a: Uint8Array, b: Uint8Array, feeds: Feeds[]): Promise<{ error: number; agree: number; rows: number }> {
  const [x, y] = [await ortNodeCpu.create(a), await ortNodeCpu.create(b)];
  let [err, total, agree, rows] = [0, 0, 0, 0];
  for (const f of feeds) {
    const [p, q] = [Object.values(await x.run(f))[0], Object.values(await y.run(f))[0]];
    expect(q.dataType).toBe('float32');
    const [u, v] = [p.data as Float32Array, q.data as Float32Array];
    const width = p.dims[p.dims.length - 1];
    for (let i = 0; i < u.length; i++) [err, total] = [err + (u[i] - v[i]) ** 2, total + u[i] ** 2];
    for (let r = 0; r < u.length / width; r++) {
      const row = (t: Float32Array) => t.subarray(r * width, (r + 1) * width).reduce((best, value, k, all) => (value > all[best] ? k : best), 0);
      agree += row(u) === row(v) ? 1 : 0;
      rows++;
    }
  }
  await Promise.all([x.release(), y.release()]);
  return { error: err / total, agree, rows };
}

describe('toHalfPrecision', () => {
  it('stores every MobileNet weight float16, keeps float32 in and out, and agrees with float32 on real images', async () => {
    const source = model('mobilenet_v1_075_224.onnx');
    const half = toHalfPrecision(source);
    const graph = onnx.ModelProto.decode(half).graph!;
    expect(graph.initializer!.every((t) => t.dataType === FLOAT16)).toBe(true);
    expect(half.length).toBeLessThan(source.length * 0.51);
    const io = [...graph.input!, ...graph.output!].map((v) => v.type!.tensorType!.elemType);
    expect(io.every((t) => t === onnx.TensorProto.DataType.FLOAT)).toBe(true);
    const images = await openDataset(`imagenet:${join(DATA, 'imagenet-sample')}`, { layout: importOnnx(source).inputs[0].shape, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], limit: 24 });
    const feeds: Feeds[] = [];
    for await (const b of images.batches(8)) feeds.push({ input: b.input });
    const r = await compare(source, half, feeds);
    expect(r.rows).toBe(24);
    expect(r.agree).toBeGreaterThanOrEqual(23);
    expect(r.error).toBeGreaterThan(0); // float16 did round something
    expect(r.error).toBeLessThan(1e-3);
  });

  it("keeps Resize's scales float32 (YOLO-FastestV2) and the detector's outputs close", async () => {
    const source = model('yolo-fastestv2-coco-352.onnx');
    const half = toHalfPrecision(source);
    const graph = onnx.ModelProto.decode(half).graph!;
    const resizes = graph.node!.filter((n) => n.opType === 'Resize');
    expect(resizes.length).toBeGreaterThan(0);
    const typeOf = (name: string) => graph.initializer!.find((t) => t.name === name)?.dataType ?? graph.node!.find((n) => n.output?.[0] === name)?.attribute?.[0]?.t?.dataType;
    for (const n of resizes) if (n.input![2]) expect(typeOf(n.input![2])).toBe(onnx.TensorProto.DataType.FLOAT);
    const input = importOnnx(source).inputs[0];
    const dims = input.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
    const r = await compare(source, half, [{ [input.name]: { dataType: 'float32', dims, data } }]);
    expect(r.error).toBeLessThan(1e-3);
  });

  it('converts a graph whose output is also read by another node (both outputs float32; the reader adds a float16 weight)', async () => {
    const io = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } });
    const graph = onnx.GraphProto.create({
      name: 'g',
      node: [onnx.NodeProto.create({ opType: 'Relu', input: ['x'], output: ['y'] }), onnx.NodeProto.create({ opType: 'Add', input: ['y', 'b'], output: ['z'] })],
      initializer: [onnx.TensorProto.create({ name: 'b', dims: [1, 4], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0.25, 0.5, 1, 2] })],
      input: [io('x')], output: [io('y'), io('z')],
    });
    const source = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
    const half = toHalfPrecision(source);
    const session = await ortNodeCpu.create(half);
    const out = await session.run({ x: { dataType: 'float32', dims: [1, 4], data: Float32Array.of(-1, 0.5, 2, 3) } });
    await session.release();
    expect(out.y.dataType).toBe('float32');
    expect([...(out.y.data as Float32Array)]).toEqual([0, 0.5, 2, 3]);
    expect([...(out.z.data as Float32Array)]).toEqual([0.25, 1, 3, 5]); // y + b, the float16 weight b exact
  });

  it('names the op a graph cannot be converted at, and leaves such a graph float32 under precision auto', () => {
    const silero = model('silero_vad_16k_op15.onnx');
    expect(halfPrecisionBlocker(silero)).toMatch(/^Cast \(/);
    expect(() => toHalfPrecision(silero)).toThrow(/cannot run in float16: Cast/);
    expect(halfPrecisionBlocker(model('use-lite/use_lite.onnx'))).toMatch(/has no float16 conversion here/);
    expect(ortPrecision('ort-webgpu', silero, 'auto', true, true)).toEqual({ model: silero, precision: 'fp32' });
    expect(() => ortPrecision('ort-node-cpu', silero, 'fp16', false)).toThrow(EngineUnavailableError);
  });
});

describe('ortPrecision', () => {
  const mnist = model('mnist-cnn-pytorch.onnx');
  it("takes float16 under 'auto' only where the device computes it (WebGPU with shader-f16)", () => {
    expect(ortPrecision('ort-webgpu', mnist, 'auto', true, true).precision).toBe('fp16');
    expect(ortPrecision('ort-webgpu', mnist, 'auto', false, true).precision).toBe('fp32');
    expect(ortPrecision('ort-webgpu', mnist, undefined, true, true).precision).toBe('fp32'); // the default is float32
    expect(ortPrecision('ort-node-cpu', mnist, undefined, false).precision).toBe('fp32');
    expect(ortPrecision('ort-webgpu', mnist, 'fp32', true, true).precision).toBe('fp32');
    expect(ortPrecision('ort-node-cpu', mnist, 'fp16', false).precision).toBe('fp16');
    expect(() => ortPrecision('ort-webgpu', mnist, 'fp16', false, true)).toThrow(/shader-f16/);
  });
});

describe("load(…, { precision })", () => {
  const source = model('mnist-cnn-pytorch.onnx');
  let lrm: Uint8Array;
  let feeds: Feeds;
  beforeAll(async () => {
    lrm = (await compileOnnx(source, { tiers: [0.5, 1] })).lrm;
    const digits = await openDataset(`mnist:${join(DATA, 'mnist')}`, { layout: importOnnx(source).inputs[0].shape, mean: [0.5], std: [0.5], limit: 64 });
    for await (const b of digits.batches(64)) feeds = { [importOnnx(source).inputs[0].name]: b.input };
  });

  it("runs float16 on the CPU engine when asked, at half the resident weight bytes; 'auto' stays float32 there", async () => {
    const [fp32, fp16] = [await load(lrm, { engine: 'ort-node-cpu', precision: 'auto' }), await load(lrm, { engine: 'ort-node-cpu', precision: 'fp16' })];
    expect(fp32.precision).toBe('fp32');
    expect(fp16.precision).toBe('fp16');
    expect(fp16.residentWeightBytes).toBe(fp32.residentWeightBytes / 2);
    expect(fp16.bytesLoaded).toBe(fp32.bytesLoaded);
    const [y, z] = [Object.values(await fp32.run(feeds))[0].data as Float32Array, Object.values(await fp16.run(feeds))[0].data as Float32Array];
    let [err, total] = [0, 0];
    for (let i = 0; i < y.length; i++) [err, total] = [err + (y[i] - z[i]) ** 2, total + y[i] ** 2];
    expect(err / total).toBeGreaterThan(0);
    expect(err / total).toBeLessThan(1e-4);
    await fp16.upgrade(1);
    expect(fp16.precision).toBe('fp16');
    await Promise.all([fp32.release(), fp16.release()]);
  });

  it("is refused by the tfjs engines, which compute in float32 only", async () => {
    await expect(load(lrm, { engine: 'tfjs-wasm', precision: 'fp16' })).rejects.toThrow(/float32 only/);
  });
});
