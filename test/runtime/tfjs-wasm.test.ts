/**
 * tfjs-wasm: the ONNX graph interpreted with tfjs-core ops on @tensorflow/tfjs-backend-wasm. On every fp32 model in
 * ../shared/data/models without control flow it must match ort-node-cpu on real inputs, at full rank and at a
 * factored tier; models it cannot run are refused before anything runs, naming the missing ops.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { EngineUnavailableError, EngineUnsupportedModelError, engines, type FallbackEvent } from '../../runtime/node.js';
import { LrmSession } from '../../runtime/session.js';
import { bytesSource } from '../../runtime/source/bytes.js';
import { bindInput, mnistDigits, MODELS, PHOTOS, photos, REAL_MODELS } from '../e2e/real-inputs.js';
import { mnistTop1Agreement, worstErrorAgainstOrt } from './engine-agreement.js';

/** Load with an explicit priority order (the Node entry's load() takes one engine or the default order). */
const load = (lrm: Uint8Array, options: Parameters<typeof LrmSession.open>[3], priority: Parameters<typeof LrmSession.open>[2]) => LrmSession.open(bytesSource(lrm), engines, priority, options);

/** Max relative error against ort-node-cpu on the same .lrm (float32 weights on both sides). */
const BOUND = 1e-3;
/** silero_vad has If nodes (control flow): refused, see the last test. */
const SUPPORTED = REAL_MODELS.filter((m) => m.file !== 'silero_vad_16k_op15.onnx');

async function compiled(file: string, options: Parameters<typeof compileOnnx>[1] = {}) {
  return compileOnnx(new Uint8Array(readFileSync(join(MODELS, file))), { fileName: file, ...options });
}

describe('tfjs-wasm', () => {
  describe.each(SUPPORTED)('$file', (c) => {
    it('agrees with ort-node-cpu on real inputs at full rank and at tier 1 (factored)', async () => {
      const { lrm, header } = await compiled(c.file, { minParams: c.minParams });
      const feeds = bindInput(await c.inputs(), header.graph.inputs[0].name);
      for (const tiers of [undefined, 2]) {
        expect(await worstErrorAgainstOrt(lrm, 'tfjs-wasm', feeds, tiers), `tiers ${tiers ?? 'all'}`).toBeLessThanOrEqual(BOUND);
      }
    });
  });

  it('mnist-cnn-pytorch: same top-1 as ort-node-cpu on all 10,000 MNIST test digits, at full rank and at tier 1', async () => {
    const { lrm } = await compiled('mnist-cnn-pytorch.onnx');
    expect(await mnistTop1Agreement(lrm, 'tfjs-wasm', 10_000, 500)).toBeGreaterThanOrEqual(99.5);
    expect(await mnistTop1Agreement(lrm, 'tfjs-wasm', 10_000, 500, 2)).toBeGreaterThanOrEqual(99.5);
  });

  it('fp16 and int8 factors: the engine gets the same dequantised float32 weights as ort-node-cpu, so the same bound holds', async () => {
    const digits = bindInput(await mnistDigits(8, false, (v) => (v / 255 - 0.5) / 0.5), 'input');
    for (const dtype of ['fp16', 'int8'] as const) {
      const { lrm } = await compiled('mnist-cnn-pytorch.onnx', { dtype });
      expect(await worstErrorAgainstOrt(lrm, 'tfjs-wasm', digits), dtype).toBeLessThanOrEqual(BOUND);
      expect(await worstErrorAgainstOrt(lrm, 'tfjs-wasm', digits, 2), `${dtype} tier 1`).toBeLessThanOrEqual(BOUND);
    }
  });

  it('frees every intermediate tensor: only the cached weights stay between runs, nothing after release', async () => {
    const source = new Uint8Array(readFileSync(join(MODELS, 'yolo-fastestv2-coco-352.onnx')));
    const session = await engines.get('tfjs-wasm').create(source);
    const before = tf.memory().numTensors;
    const [feeds] = bindInput(await photos(PHOTOS.slice(0, 1), 3, 352, 352, { resize: 'stretch', channelOrder: 'BGR' }), 'input.1');
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await session.run(feeds);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[0]).toBeGreaterThan(before);
    expect(new Set(counts).size).toBe(1);
    await session.release();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses models with ops it lacks before running anything, naming every missing op (not "unavailable")', async () => {
    const engine = engines.get('tfjs-wasm');
    const silero = new Uint8Array(readFileSync(join(MODELS, 'silero_vad_16k_op15.onnx')));
    const error = await engine.create(silero).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineUnsupportedModelError);
    expect(error).not.toBeInstanceOf(EngineUnavailableError);
    expect((error as EngineUnsupportedModelError).missingOps).toEqual(['If ×3']);
    expect((error as Error).message).toMatch(/^engine tfjs-wasm cannot run this model \(missing ops If ×3\); run it with ort-node-cpu or ort-wasm$/);

    const int8 = await engine.create(new Uint8Array(readFileSync(join(MODELS, 'shufflenet-v2-12-int8.onnx')))).catch((e: unknown) => e);
    expect((int8 as EngineUnsupportedModelError).missingOps).toEqual(['com.microsoft:QLinearAdd ×1', 'DequantizeLinear ×34', 'QLinearConv ×56', 'QLinearMatMul ×1', 'QuantizeLinear ×18']);
  });

  it('in a priority order, a model it cannot run moves on to the next engine with a fallback event', async () => {
    const silero = new Uint8Array(readFileSync(join(MODELS, 'silero_vad_16k_op15.onnx')));
    const { lrm } = await compileOnnx(silero);
    const events: FallbackEvent[] = [];
    const session = await load(lrm, { engine: undefined, onFallback: (e) => events.push(e) }, ['tfjs-wasm', 'ort-node-cpu']);
    expect(session.engine).toBe('ort-node-cpu');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ engine: 'tfjs-wasm', next: 'ort-node-cpu' });
    expect(events[0].reason).toMatch(/missing ops If ×3/);
    await session.release();
  });

  it('refuses an op variant it cannot compute exactly, naming the node', async () => {
    const T = onnx.TensorProto.DataType;
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'cubic',
        node: [{ name: 'up', opType: 'Resize', input: ['x', '', 'scales'], output: ['y'], attribute: [{ name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode('cubic') }] }],
        initializer: [{ name: 'scales', dataType: T.FLOAT, dims: [4], floatData: [1, 1, 2, 2] }],
        input: [{ name: 'x', type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 1 }, { dimValue: 4 }, { dimValue: 4 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT } } }],
      },
    }).finish();
    const error = await engines.get('tfjs-wasm').create(model).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineUnsupportedModelError);
    expect((error as EngineUnsupportedModelError).unsupportedNodes).toEqual(['"up" (Resize): Resize mode cubic']);
  });
});
