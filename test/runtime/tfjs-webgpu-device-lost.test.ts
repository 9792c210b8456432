/**
 * tfjs-webgpu losing its real GPU device (Dawn on SwiftShader, GPUDevice.destroy()): the run is repeated on
 * tfjs-wasm, as with ort-webgpu in the browser (test/browser/browser-bundles.test.ts). tfjs's backend does not watch
 * its device: without the runtime's watch the run fails here with a plain run error (in Chromium it hangs). A file of its own: every tfjs-webgpu session
 * of a process shares one device, and this test destroys it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileOnnx } from '../../compiler/compile.js';
import { nodeWebgpu } from '../../runtime/engines/tfjs/node-sources.js';
import { startTfjsWebgpu } from '../../runtime/engines/tfjs/webgpu.js';
import { engines, LrmSession, type FallbackEvent } from '../../runtime/node.js';
import { bytesSource } from '../../runtime/source/bytes.js';
import { mnistDigits, MODELS } from '../e2e/real-inputs.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

describe.runIf(existsSync(SWIFTSHADER))('tfjs-webgpu device lost', () => {
  beforeAll(() => {
    // Dawn reads the driver list when it first starts in this process (each test file runs in its own fork).
    if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  });

  it('repeats the run on tfjs-wasm, which gives the same classes, and reports the move once', async () => {
    const lrm = (await compileOnnx(new Uint8Array(readFileSync(join(MODELS, 'mnist-cnn-pytorch.onnx'))))).lrm;
    const digits = await mnistDigits(4, false, (v) => (v / 255 - 0.5) / 0.5);
    const events: FallbackEvent[] = [];
    const session = await LrmSession.open(bytesSource(lrm), engines, ['tfjs-webgpu', 'tfjs-wasm'], { onFallback: (e) => events.push(e) });
    const top1 = async (i: number) => {
      const scores = (await session.run({ input: digits[i].x })).output.data as Float32Array;
      return scores.indexOf(Math.max(...scores));
    };
    const classes = async () => {
      const out = [];
      for (const i of digits.keys()) out.push(await top1(i));
      return out;
    };
    expect(session.engine).toBe('tfjs-webgpu');
    const before = await classes();

    (await startTfjsWebgpu(nodeWebgpu)).destroy();
    expect(await classes()).toEqual(before);
    expect(session.engine).toBe('tfjs-wasm');
    expect(events).toEqual([{ engine: 'tfjs-webgpu', reason: expect.stringMatching(/^engine tfjs-webgpu lost its GPU device \(destroyed/), next: 'tfjs-wasm' }]);
    await session.release();
  }, 120_000);
});
