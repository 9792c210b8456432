/**
 * Real inputs for the models in ../shared/data/models, preprocessed as each model's card says
 * (see ../shared/data/MANIFEST.md). Shared by the end-to-end tests.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { preprocessImage, readImageFile, type Preprocess } from '../../compiler/data/image.js';
import { readMnist } from '../../compiler/data/mnist.js';
import { readWav } from '../../compiler/data/wav.js';
import type { Feeds } from '../../runtime/tensor.js';

export const DATA = join(import.meta.dirname, '../../../shared/data');
export const MODELS = join(DATA, 'models');
export const PHOTOS = ['bus.jpg', 'zidane.jpg', 'dog.jpg'].map((f) => join(DATA, 'images', f));

export async function mnistDigits(count: number, flat: boolean, scale: (v: number) => number): Promise<Feeds[]> {
  const { pixels: images } = await readMnist(join(DATA, 'mnist'));
  return Array.from({ length: count }, (_, i) => {
    const data = Float32Array.from(images.subarray(i * 784, (i + 1) * 784), scale);
    return { dims: flat ? [1, 784] : [1, 1, 28, 28], data };
  }).map((t) => ({ x: { dataType: 'float32', dims: t.dims, data: t.data } }));
}

export async function photos(files: string[], c: number, h: number, w: number, pre: Preprocess): Promise<Feeds[]> {
  const out: Feeds[] = [];
  for (const f of files) {
    const data = preprocessImage(await readImageFile(f), { channels: c, height: h, width: w }, pre);
    out.push({ x: { dataType: 'float32', dims: [1, c, h, w], data } });
  }
  return out;
}

export function imagenetFiles(count: number): string[] {
  const dir = join(DATA, 'imagenet-sample');
  return readdirSync(dir).filter((f) => f.endsWith('.JPEG')).sort().slice(0, count).map((f) => join(dir, f));
}

/** Silero VAD chunks: 64 samples of context + 512 new samples at 16 kHz, zero state, sr = 16000. */
export async function vadChunks(count: number): Promise<Feeds[]> {
  const { samples } = await readWav(join(DATA, 'audio/silero_test.wav'));
  return Array.from({ length: count }, (_, i) => {
    const start = 16000 * 5 + i * 512; // 5 s in: speech, not leading silence
    return {
      input: { dataType: 'float32', dims: [1, 576], data: samples.slice(start - 64, start + 512) },
      state: { dataType: 'float32', dims: [2, 1, 128], data: new Float32Array(256) },
      sr: { dataType: 'int64', dims: [], data: BigInt64Array.of(16000n) },
    };
  });
}

/** Rename the placeholder input `x` to the model's real input name. */
export function bindInput(feeds: Feeds[], name: string): Feeds[] {
  return feeds.map((f) => ('x' in f ? { [name]: f.x } : f));
}

export interface RealModel {
  file: string;
  inputs: () => Promise<Feeds[]>;
  /** Compile options beyond the defaults. */
  minParams?: number;
  /** At least this many layers must be factored (the point of the test is to exercise factoring). */
  minLayers: number;
}

/** Every model in ../shared/data/models except the int8 one, with real inputs and the compile options the tests use. */
export const REAL_MODELS: RealModel[] = [
  { file: 'mnist-8.onnx', minParams: 1024, minLayers: 1, inputs: () => mnistDigits(8, false, (v) => v) },
  { file: 'mnist-cnn-pytorch.onnx', minLayers: 2, inputs: () => mnistDigits(8, false, (v) => (v / 255 - 0.5) / 0.5) },
  { file: 'mnist-mlp-784-128-64-10.onnx', minLayers: 2, inputs: () => mnistDigits(8, true, (v) => v / 255) },
  { file: 'super-resolution-10.onnx', minLayers: 2, inputs: () => photos(PHOTOS.slice(2), 1, 224, 224, { resize: 'stretch' }) },
  { file: 'yolo-fastestv2-coco-352.onnx', minLayers: 5, inputs: () => photos(PHOTOS, 3, 352, 352, { resize: 'stretch', channelOrder: 'BGR' }) },
  {
    file: 'nanodet-m-coco-416.onnx', minLayers: 5,
    inputs: () => photos(PHOTOS.slice(0, 2), 3, 416, 416, { resize: 'stretch', channelOrder: 'BGR', mean: [103.53 / 255, 116.28 / 255, 123.675 / 255], std: [57.375 / 255, 57.12 / 255, 58.395 / 255] }),
  },
  { file: 'ultraface-RFB-320.onnx', minLayers: 3, inputs: () => photos(PHOTOS.slice(1, 2), 3, 240, 320, { resize: 'stretch', mean: [127 / 255], std: [128 / 255] }) },
  { file: 'silero_vad_16k_op15.onnx', minLayers: 2, inputs: () => vadChunks(6) },
  { file: 'mobilenet_v1_075_224.onnx', minLayers: 10, inputs: () => photos(imagenetFiles(3), 3, 224, 224, { mean: [0.5], std: [0.5] }) },
];
