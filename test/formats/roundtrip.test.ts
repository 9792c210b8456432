import { describe, it, expect } from 'vitest';
import { bytesToLoad } from '../../formats/read.js';
import { formatVersionFor, HEADER_PREFIX_BYTES, headerLength, PAYLOAD_ALIGNMENT, readHeader, readLrm, sha256Hex, verifySections } from '../../formats/index.js';
import { sectionsFor } from '../../formats/sections.js';
import { completeHeader, PayloadBuilder, writeLrm } from '../../formats/write.js';
import { LrmChecksumError } from '../../formats/errors.js';
import { denseFromTierModel, INT64_MAX, smallFile, smallModel } from './fixture.js';
import { preInt8File } from './pre-int8-files.js';

describe('lrm round trip', () => {
  for (const dtype of ['fp32', 'fp16', 'int8'] as const) {
    it(`reads back the header and payload it wrote (${dtype})`, async () => {
      const { file, header, payload } = await smallFile(dtype);
      const read = await readLrm(file, { fileName: 'tiny.lrm' });
      expect(read.header).toEqual(header);
      expect(read.payloadStart % PAYLOAD_ALIGNMENT).toBe(0);
      expect(read.payload).toEqual(payload);
      expect(read.payloadStart + header.payloadLength).toBe(file.length);
    });
  }

  for (const dtype of ['fp32', 'int8'] as const) {
    it(`reads back a tier's refit section and checks its SHA-256 (${dtype})`, async () => {
      const { file, header, payload } = await smallFile(dtype, { refit: true });
      const read = await readLrm(file, { fileName: 'tiny.lrm' });
      expect(read.header).toEqual(header);
      const refit = read.header.tiers[0].refit!;
      expect(refit.layers).toHaveLength(1);
      expect(refit.range.offset).toBe(header.tiers[1].range.offset + header.tiers[1].range.length);
      expect(refit.sha256).toBe(await sha256Hex(payload.subarray(refit.range.offset, refit.range.offset + refit.range.length)));
      expect(read.header.tiers[1].refit).toBeUndefined();
      expect(bytesToLoad(read.header, read.payloadStart, 1)).toBe(read.payloadStart + header.tiers[0].range.offset + header.tiers[0].range.length + refit.range.length);
    });
  }

  for (const dtype of ['fp32', 'fp16'] as const) {
    it(`reads ${dtype} files written before int8 existed; today's writer gives the same header in fewer bytes`, async () => {
      const old = preInt8File(dtype);
      const { file, header } = await smallFile(dtype);
      expect((await readLrm(old)).header).toEqual(header);
      // Same schema, same payload; repeated strings are now written once, so the header is smaller.
      expect(file.length).toBeLessThanOrEqual(old.length);
      expect(file.subarray(file.length - header.payloadLength)).toEqual(old.subarray(old.length - header.payloadLength));
    });
  }

  for (const dtype of ['fp32', 'int8'] as const) {
    it(`format v2: a layer dense from tier 1 round-trips; each tier count needs only its sections (${dtype})`, async () => {
      const { input, payload } = denseFromTierModel(dtype);
      const file = await writeLrm(input, payload);
      const read = await readLrm(file, { fileName: 'dense.lrm' });
      expect(read.header).toEqual(await completeHeader(input, payload));
      expect(read.header.formatVersion).toBe(2);
      const layer = read.header.layers[0]!;
      expect(layer.denseTier).toBe(1);
      expect(layer.dense!.length).toBe(4 * 8 * (dtype === 'int8' ? 1 : 4));
      if (dtype === 'int8') expect(layer.denseScales).toEqual([0.5, 0.25, 0, 2]);
      const x = read.header.tiers[0].transient!;
      expect(x.map((t) => t.denseTier)).toEqual([1]);
      // One tier: dense, tier 0 (empty) and the transient block; two tiers: the dense M instead, and no block.
      expect(sectionsFor(read.header, 1).map((s) => s.name)).toEqual(['dense', 'tier-0', 'transient-0-1']);
      expect(sectionsFor(read.header, 2).map((s) => s.name)).toEqual(['dense', 'tier-0', 'tier-1']);
      const ps = read.payloadStart;
      expect(bytesToLoad(read.header, ps, 2)).toBe(ps + read.header.dense.range.length + read.header.tiers[1].range.length);
      expect(bytesToLoad(read.header, ps, 2)).toBe(ps + x[0]!.range.offset); // the whole tier ladder is one prefix
      // Bytes two tiers do not need may be anything: the transient block zeroed still verifies for two, not for one.
      const holed = file.slice();
      holed.fill(0, ps + x[0]!.range.offset, ps + x[0]!.range.offset + x[0]!.range.length);
      await verifySections(holed, read.header, ps, 2);
      await expect(verifySections(holed, read.header, ps, 1)).rejects.toBeInstanceOf(LrmChecksumError);
    });
  }

  it('format v4: σ only for the components stored as factors of a layer that runs dense from a tier', async () => {
    const { input, payload } = denseFromTierModel('fp32');
    const full = await writeLrm(input, payload);
    input.layers[0]!.sigma = input.layers[0]!.sigma.slice(0, 2); // blocks end at rank 2; rank 4 runs dense
    input.formatVersion = formatVersionFor(input);
    expect(input.formatVersion).toBe(4);
    const file = await writeLrm(input, payload);
    const read = await readLrm(file, { fileName: 'v4.lrm' });
    expect(read.header.layers[0]!.sigma).toHaveLength(2);
    expect(read.header.layers[0]!.maxRank).toBe(4);
    expect(file.length).toBeLessThanOrEqual(full.length);
  });

  it('shares repeated attribute lists and dims: the same header in fewer bytes than one table per node', async () => {
    const { input, payload } = denseFromTierModel('fp32');
    const conv = input.graph.nodes[0]!;
    const attributes = [{ name: 'kernel_shape', kind: 'ints' as const, value: [3n, 3n] }, { name: 'group', kind: 'int' as const, value: 1n }];
    const one = structuredClone(input);
    one.graph.nodes[0] = { ...conv, attributes };
    const two = structuredClone(one);
    two.graph.nodes[1] = { ...two.graph.nodes[1]!, attributes: structuredClone(attributes) };
    const [a, b] = [await writeLrm(one, payload), await writeLrm(two, payload)];
    expect((await readLrm(b)).header.graph.nodes[1]!.attributes).toEqual(attributes);
    // The second node's list is the first one's offset: 4 bytes for its field, nothing else.
    expect(b.length - a.length).toBeLessThanOrEqual(8);
  });

  it('keeps int8 scales exactly, and writes no scale fields for float factors', async () => {
    const { file } = await smallFile('int8');
    const { header } = await readLrm(file);
    expect(header.factorDType).toBe('int8');
    expect(header.layers[0].leftScales).toEqual([Math.fround(1 / 127), 0.25, 0, 3]);
    expect(header.layers[0].blocks.map((b) => b.rightScales)).toEqual([[0.5, Math.fround(0.1)], [1, Math.fround(0.2)]]);
    expect(header.layers[0].blocks[0].left.length).toBe(2 * 4);
    const fp32 = (await readLrm((await smallFile('fp32')).file)).header.layers[0];
    expect('leftScales' in fp32).toBe(false);
    expect(fp32.blocks.some((b) => 'rightScales' in b)).toBe(false);
  });

  it('keeps int64 attributes exact, onnx bytes, and measured zeros', async () => {
    const { file } = await smallFile();
    const { header } = await readLrm(file);
    const slice = header.graph.nodes[3];
    expect(slice.attributes[0]).toEqual({ name: 'ends', kind: 'int', value: INT64_MAX });
    expect(slice.attributes[1].value).toEqual([-1n, 0n, INT64_MAX, -(2n ** 63n)]);
    expect(header.graph.nodes[2].attributes[0].kind).toBe('onnx');
    expect(header.presets[1]).toEqual({ name: 'zero', deviceClass: 'bench', engine: 'ort-cpu', tiers: 2, latencyMsP50: 0, fidelity: 0 });
    expect('latencyMsP50' in header.presets[2]).toBe(false);
  });

  it('keeps a float attribute of −0 as −0 (FlatBuffers would leave out a field equal to its default 0)', async () => {
    const { input, payload } = smallModel();
    input.graph.nodes[0]!.attributes = [{ name: 'alpha', kind: 'float', value: -0 }, { name: 'beta', kind: 'float', value: 0 }];
    const { header } = await readLrm(await writeLrm(input, payload));
    expect(Object.is(header.graph.nodes[0]!.attributes[0]!.value, -0)).toBe(true);
    expect(Object.is(header.graph.nodes[0]!.attributes[1]!.value, 0)).toBe(true);
  });

  it('records section checksums that match the payload', async () => {
    const { header, payload } = await smallFile();
    const digest = (o: number, l: number) => sha256Hex(payload.subarray(o, o + l));
    expect(header.dense.sha256).toBe(await digest(header.dense.range.offset, header.dense.range.length));
    for (const t of header.tiers) expect(t.sha256).toBe(await digest(t.range.offset, t.range.length));
  });

  it('reads the header from just the bytes headerLength asks for, then tiers from a prefix', async () => {
    const { file, header } = await smallFile();
    const need = headerLength(file.subarray(0, HEADER_PREFIX_BYTES));
    const view = await readHeader(file.slice(0, need), { totalLength: file.length });
    expect(view.header).toEqual(header);
    const tier0End = view.payloadStart + header.tiers[0].range.offset + header.tiers[0].range.length;
    await verifySections(file.slice(0, tier0End), view.header, view.payloadStart, 1);
    await verifySections(file.slice(0, view.payloadStart + header.dense.range.length), view.header, view.payloadStart, 0);
  });

  it('reads a file that sits at an odd offset inside a larger buffer', async () => {
    const { file, header } = await smallFile();
    const host = new Uint8Array(file.length + 3);
    host.set(file, 3);
    expect((await readLrm(host.subarray(3))).header).toEqual(header);
  });
});

describe('PayloadBuilder', () => {
  it('aligns every block and seals sections back to back', () => {
    const p = new PayloadBuilder();
    expect(p.append(new Uint8Array(5))).toEqual({ offset: 0, length: 5 });
    expect(p.append(new Uint8Array(70))).toEqual({ offset: 64, length: 70 });
    const dense = p.seal(0);
    expect(dense).toEqual({ offset: 0, length: 192 });
    const start = p.length;
    const empty = p.seal(start);
    expect(empty).toEqual({ offset: 192, length: 0 });
    const next = p.length;
    p.append(Uint8Array.of(1, 2, 3));
    expect(p.seal(next)).toEqual({ offset: 192, length: 64 });
    const out = p.finish();
    expect(out.length).toBe(256);
    expect(Array.from(out.subarray(192, 196))).toEqual([1, 2, 3, 0]);
  });
});
