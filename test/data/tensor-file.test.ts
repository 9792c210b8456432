import { describe, it, expect, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitToInput, parseJsonInput, readInputFile, type InputModel } from '../../compiler/data/tensor-file.js';
import { serializeNpy } from '../../compiler/data/npy.js';
import { DataFormatError, DataShapeError, DataSpecError, UnsupportedDataError } from '../../compiler/data/errors.js';
import { SHARED, scratchDir, stats } from './helpers.js';

const mnistModel: InputModel = { inputs: [{ name: 'input', dataType: 1, shape: ['batch', 1, 28, 28] }] };
const sileroModel: InputModel = {
  inputs: [
    { name: 'input', dataType: 1, shape: ['batch', 576] },
    { name: 'state', dataType: 1, shape: [2, 'batch', 128] },
    { name: 'sr', dataType: 7, shape: [] },
  ],
};

describe('JSON input files', () => {
  it('reads named tensors with dims and dataType, and bare arrays per input', () => {
    const doc = {
      input: { dims: [1, 576], dataType: 'float32', data: new Array(576).fill(0.5) },
      state: new Array(2).fill([new Array(128).fill(0)]),
      sr: { data: 16000 },
    };
    const t = parseJsonInput(JSON.stringify(doc), sileroModel, 'in.json');
    expect(t.input!.dims).toEqual([1, 576]);
    expect(t.input!.data).toBeInstanceOf(Float32Array);
    expect(t.state!.dims).toEqual([2, 1, 128]);
    expect(t.sr).toEqual({ dataType: 'int64', dims: [], data: BigInt64Array.from([16000n]) });
  });

  it('reads a bare nested array for a single-input model, reshaping a flat vector of the right size', () => {
    const nested = [[new Array(28).fill(new Array(28).fill(1))]];
    expect(parseJsonInput(JSON.stringify(nested), mnistModel).input!.dims).toEqual([1, 1, 28, 28]);
    const flat = parseJsonInput(JSON.stringify(new Array(784).fill(0)), mnistModel).input!;
    expect(flat.dims).toEqual([1, 1, 28, 28]);
    expect(flat.data.length).toBe(784);
  });

  it('converts int64 from numbers and strings, and float64 data to a float32 input', () => {
    const m: InputModel = { inputs: [{ name: 'ids', dataType: 7, shape: [3] }] };
    expect(parseJsonInput('{"ids": [1, "9007199254740993", -2]}', m).ids!.data).toEqual(BigInt64Array.from([1n, 9007199254740993n, -2n]));
    const f: InputModel = { inputs: [{ name: 'x', dataType: 1, shape: [2] }] };
    const x = parseJsonInput('{"x": {"dataType": "float64", "data": [0.1, 2]}}', f).x!;
    expect(x.dataType).toBe('float32');
    expect([...x.data]).toEqual([Math.fround(0.1), 2]);
  });

  it('names the problem for bad documents', () => {
    expect(() => parseJsonInput('{"inptu": [1]}', mnistModel, 'a.json')).toThrow(/a\.json: no model input named 'inptu'; the inputs are 'input'/);
    expect(() => parseJsonInput('{"input": [1]}', sileroModel)).toThrow(/missing value for input\(s\) 'state', 'sr'/);
    expect(() => parseJsonInput('[[1, 2], [3]]', mnistModel)).toThrow(/ragged array at \[1\]/);
    expect(() => parseJsonInput('[1, 2, 3]', mnistModel)).toThrow(/expects shape \[batch, 1, 28, 28\] but the data has shape \[3\]/);
    expect(() => parseJsonInput('[1, 2]', sileroModel)).toThrow(DataSpecError);
    expect(() => parseJsonInput('{"input": {"dims": [2], "data": [1, 2, 3]}}', mnistModel)).toThrow(DataShapeError);
    expect(() => parseJsonInput('{"input": {"data": [1, "x"]}}', mnistModel)).toThrow(/element 1 \("x"\) is not a number/);
    expect(() => parseJsonInput('{"input": {"data": [1.5], "dataType": "int8"}}', mnistModel)).toThrow(DataFormatError);
    expect(() => parseJsonInput('{"sr": 1.5}', { inputs: [sileroModel.inputs[2]!] })).toThrow(/input 'sr': element 0 \(1\.5\) is not an integer/);
    expect(() => parseJsonInput('{oops', mnistModel)).toThrow(/invalid JSON/);
  });
});

describe('fitToInput', () => {
  it('refuses float data for an integer input', () => {
    const m = { name: 'ids', dataType: 7, shape: [2] };
    expect(() => fitToInput({ dataType: 'float32', dims: [2], data: new Float32Array(2) }, m, 'x.npy')).toThrow(/float32 but int64 is expected/);
  });
});

describe('readInputFile', () => {
  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);

  it('binds a .npy file to the single input', async () => {
    const p = join(dir, 'x.npy');
    writeFileSync(p, serializeNpy({ dataType: 'float64', dims: [1, 1, 28, 28], data: new Float64Array(784).fill(0.25) }));
    const t = await readInputFile(p, mnistModel);
    expect(t.input!.dataType).toBe('float32');
    expect(t.input!.dims).toEqual([1, 1, 28, 28]);
    await expect(readInputFile(p, sileroModel)).rejects.toThrow(/single-input model, this one has 3 \(input, state, sr\); use a \.json file/);
  });

  it('reads a .json file', async () => {
    const p = join(dir, 'x.json');
    writeFileSync(p, JSON.stringify({ input: { dims: [1, 784], data: new Array(784).fill(1) } }));
    expect((await readInputFile(p, mnistModel)).input!.dims).toEqual([1, 1, 28, 28]);
  });

  it('preprocesses a JPEG to the model input, BGR plain resize or at its own size', async () => {
    const yolo: InputModel = { inputs: [{ name: 'input.1', dataType: 1, shape: [1, 3, 352, 352] }] };
    const t = (await readInputFile(join(SHARED, 'images/dog.jpg'), yolo, { resize: 'stretch', channelOrder: 'BGR' }))['input.1']!;
    expect(t.dims).toEqual([1, 3, 352, 352]);
    const { min, max } = stats(t.data as Float32Array);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    const free: InputModel = { inputs: [{ name: 'x', dataType: 1, shape: ['n', 1, 'h', 'w'] }] };
    expect((await readInputFile(join(SHARED, 'images/dog.jpg'), free)).x!.dims).toEqual([1, 1, 576, 768]);
  });

  it('refuses unknown extensions, missing files and non-image inputs', async () => {
    await expect(readInputFile(join(dir, 'x.png'), mnistModel)).rejects.toThrow(UnsupportedDataError);
    await expect(readInputFile(join(dir, 'none.npy'), mnistModel)).rejects.toThrow(/input file not found/);
    const flat: InputModel = { inputs: [{ name: 'x', dataType: 1, shape: ['N', 784] }] };
    await expect(readInputFile(join(SHARED, 'images/dog.jpg'), flat)).rejects.toThrow(/needs a 4-D \[N, C, H, W\] input/);
    const nhwc: InputModel = { inputs: [{ name: 'x', dataType: 1, shape: [1, 224, 224, 3] }] };
    await expect(readInputFile(join(SHARED, 'images/dog.jpg'), nhwc)).rejects.toThrow(/looks like NHWC/);
  });
});
