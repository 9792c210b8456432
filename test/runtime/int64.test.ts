/**
 * int64 ONNX attributes must survive the runtime's graph rebuild exactly, also where protobufjs cannot find
 * long.js by itself: in a bundle (the browser entry points), its hidden require() finds nothing and int64 values
 * become floats, so INT64_MAX (Slice's "to the end") came out as INT64_MIN. The test bundles the runtime's ONNX
 * code with esbuild as the browser build does and runs it as an ES module, where there is no require() either.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

describe('int64 attributes in a bundle', () => {
  it('INT64_MAX, INT64_MIN and 2^53 + 1 encode and decode exactly', async () => {
    const script = `
      import { onnx } from './runtime/onnx/proto.ts';
      const values = ['9223372036854775807', '-9223372036854775808', '9007199254740993'];
      const bytes = onnx.AttributeProto.encode({ name: 'ends', type: onnx.AttributeProto.AttributeType.INTS, ints: values, i: values[0] }).finish();
      const back = onnx.AttributeProto.decode(bytes);
      console.log(JSON.stringify({ ints: back.ints.map(String), i: String(back.i) }));
    `;
    const out = await build({ stdin: { contents: script, resolveDir: ROOT, loader: 'ts' }, bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], write: false, logLevel: 'silent' });
    const dir = mkdtempSync(join(tmpdir(), 'int64-'));
    try {
      const file = join(dir, 'bundle.mjs');
      writeFileSync(file, out.outputFiles[0].text);
      const result = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' })) as { ints: string[]; i: string };
      expect(result.ints).toEqual(['9223372036854775807', '-9223372036854775808', '9007199254740993']);
      expect(result.i).toBe('9223372036854775807');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
