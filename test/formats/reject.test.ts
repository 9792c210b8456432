import { describe, it, expect } from 'vitest';
import {
  headerLength,
  LrmBadIdentifierError,
  LrmChecksumError,
  LrmCorruptHeaderError,
  LrmFormatError,
  LrmTruncatedError,
  LrmVersionError,
  readHeader,
  readLrm,
  verifySections,
} from '../../formats/index.js';
import { SIZE_PREFIX_BYTES } from '../../formats/framing.js';
import { sha256 } from '../../formats/sha256.js';
import { writeLrm, type LrmHeaderInput } from '../../formats/write.js';
import { FORMAT_VERSION, type FactorDType } from '../../formats/model.js';
import { denseFromTierModel, smallFile, smallModel } from './fixture.js';

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

function flipped(file: Uint8Array, at: number, mask = 0xff): Uint8Array {
  const copy = file.slice();
  copy[at] ^= mask;
  return copy;
}

/** Writes the small model after `edit` breaks it, skipping the writer's own validation. */
async function broken(edit: (h: LrmHeaderInput) => void, dtype: FactorDType = 'fp32', refit = false): Promise<Uint8Array> {
  const { input, payload } = smallModel(dtype, { refit });
  edit(input);
  return writeLrm(input, payload, { validate: false });
}

async function corrupt(edit: (h: LrmHeaderInput) => void, message: RegExp, dtype: FactorDType = 'fp32', refit = false): Promise<void> {
  const e = await rejection(readLrm(await broken(edit, dtype, refit), { fileName: 'bad.lrm' }));
  expect(e).toBeInstanceOf(LrmCorruptHeaderError);
  expect((e as Error).message).toMatch(message);
}

describe('typed errors', () => {
  it('name their class, carry a code and fit on one line', async () => {
    const { file } = await smallFile();
    const e = await rejection(readLrm(file.subarray(0, file.length - 1), { fileName: 'model.lrm' }));
    expect(e).toBeInstanceOf(LrmTruncatedError);
    const err = e as LrmTruncatedError;
    expect(err.name).toBe('LrmTruncatedError');
    expect(err.code).toBe('LRM_TRUNCATED');
    expect(err.message).toBe(
      `model.lrm is truncated: header says ${file.length.toLocaleString('en-US')} bytes, got ${(file.length - 1).toLocaleString('en-US')} (re-download or re-copy the file)`,
    );
    expect(String(err)).toMatch(/^LrmTruncatedError: model\.lrm/);
  });
});

describe('truncation', () => {
  it('every prefix of a file gives LrmTruncatedError', async () => {
    const { file } = await smallFile();
    for (let n = 0; n < file.length; n++) {
      const e = await rejection(readLrm(file.subarray(0, n)));
      if (!(e instanceof LrmTruncatedError)) throw new Error(`length ${n}: ${String(e)}`);
      expect((e as Error).message).not.toMatch(/\n/);
    }
  });

  it('a too-short prefix for headerLength is a truncation', async () => {
    const { file } = await smallFile();
    expect(() => headerLength(file.subarray(0, 8))).toThrow(LrmTruncatedError);
    expect(headerLength(file.subarray(0, 12))).toBeGreaterThan(12);
  });

  it('verifySections wants the bytes of every tier it checks', async () => {
    const { file } = await smallFile();
    const { header, payloadStart } = await readHeader(file);
    const tier0End = payloadStart + header.tiers[0].range.offset + header.tiers[0].range.length;
    const e = await rejection(verifySections(file.subarray(0, tier0End), header, payloadStart, 2));
    expect(e).toBeInstanceOf(LrmTruncatedError);
    expect((e as Error).message).toMatch(/tiers 0\.\.1 need/);
  });
});

describe('damage', () => {
  it('flipping any single byte before the payload gives a typed error', async () => {
    const { file, header } = await smallFile();
    const payloadStart = file.length - header.payloadLength;
    for (let at = 0; at < payloadStart; at++) {
      for (const mask of [0x01, 0x80]) {
        const e = await rejection(readLrm(flipped(file, at, mask)));
        if (!(e instanceof LrmFormatError)) throw new Error(`byte ${at} ^ ${mask}: ${String(e)}`);
      }
    }
  });

  it('a damaged header body is reported as a header checksum error', async () => {
    const { file } = await smallFile();
    const e = await rejection(readLrm(flipped(file, 40)));
    expect(e).toBeInstanceOf(LrmChecksumError);
    expect((e as LrmChecksumError).section).toBe('header');
  });

  it('a flipped payload byte names the damaged section', async () => {
    const { file, header } = await smallFile();
    const payloadStart = file.length - header.payloadLength;
    for (const [k, tier] of header.tiers.entries()) {
      const e = await rejection(readLrm(flipped(file, payloadStart + tier.range.offset + 5), { fileName: 'kiosk.lrm' }));
      expect(e).toBeInstanceOf(LrmChecksumError);
      expect(e).toMatchObject({ section: 'tier', tier: k, code: 'LRM_CHECKSUM' });
      expect((e as Error).message).toBe(
        `kiosk.lrm is damaged: the tier ${k} does not match its SHA-256 checksum (re-download or re-copy the file)`,
      );
    }
    const e = await rejection(readLrm(flipped(file, payloadStart + 3)));
    expect(e).toMatchObject({ section: 'dense', tier: undefined });
  });

  it.each(['fp32', 'int8'] as const)('survives any byte of a re-hashed FlatBuffer being changed: typed error or a valid header, never a crash (%s)', async (dtype) => {
    const { file } = await smallFile(dtype);
    const size = new DataView(file.buffer, file.byteOffset).getUint32(0, true);
    const end = SIZE_PREFIX_BYTES + size;
    for (let at = SIZE_PREFIX_BYTES; at < end; at++) {
      for (const mask of [0x01, 0x40, 0xff]) {
        const copy = flipped(file, at, mask);
        // Re-hash so the damage gets past the checksum and reaches the decoder and validator.
        copy.set(await sha256(copy.subarray(0, end)), end);
        try {
          await readLrm(copy);
        } catch (e) {
          if (!(e instanceof LrmFormatError)) throw new Error(`byte ${at} ^ ${mask}: ${String(e)}`);
        }
      }
    }
  });

  it('trailing bytes after the payload are rejected', async () => {
    const { file } = await smallFile();
    const longer = new Uint8Array(file.length + 10);
    longer.set(file);
    const e = await rejection(readLrm(longer));
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(/10 bytes longer/);
  });
});

describe('identity and version', () => {
  it('a wrong identifier is LrmBadIdentifierError', async () => {
    const { file } = await smallFile();
    const copy = file.slice();
    copy.set([0x4f, 0x4e, 0x4e, 0x0a], 8);
    const e = await rejection(readLrm(copy, { fileName: 'model.onnx' }));
    expect(e).toBeInstanceOf(LrmBadIdentifierError);
    expect((e as Error).message).toBe(
      'model.onnx is not a .lrm model: its file identifier is "ONN\\x0a", expected "LRM1" (pick the compiled .lrm file, not the .onnx or another file)',
    );
    expect(() => headerLength(copy)).toThrow(LrmBadIdentifierError);
  });

  it('format version 99 is LrmVersionError', async () => {
    const e = await rejection(readLrm(await broken((h) => (h.formatVersion = 99))));
    expect(e).toBeInstanceOf(LrmVersionError);
    expect((e as LrmVersionError).version).toBe(99);
    expect((e as Error).message).toContain(`format version 99, this runtime reads version 1 to ${FORMAT_VERSION} (update the runtime)`);
  });

  it('a future file identifier generation is LrmVersionError', async () => {
    const { file } = await smallFile();
    const e = await rejection(readLrm(flipped(file, 11, 0x31 ^ 0x32)));
    expect(e).toBeInstanceOf(LrmVersionError);
  });
});

describe('invalid headers', () => {
  it('the writer validates by default', async () => {
    const { input, payload } = smallModel();
    input.graph.nodes[1].inputs[0] = 'nowhere';
    await expect(writeLrm(input, payload)).rejects.toBeInstanceOf(LrmCorruptHeaderError);
  });

  it('a byte range past the payload', () =>
    corrupt((h) => (h.graph.initializers[0].range = { offset: 1 << 20, length: 16 }), /past the end of the \d+-byte payload/));

  it('an unaligned byte range', () => corrupt((h) => (h.graph.initializers[0].range = { offset: 4, length: 16 }), /not a multiple of 64/));

  it('an offset beyond 2^53', () =>
    corrupt((h) => (h.graph.initializers[0].range = { offset: 2 ** 60, length: 16 }), /too large/));

  it('a negative dim', () => corrupt((h) => (h.graph.initializers[0].dims = [-1, -16]), /dim 0 is -1/));

  it('a negative graph input dim', () => corrupt((h) => (h.graph.inputs[0].shape = [-3, 8]), /dim 0 is -3/));

  it('a byte length that does not match the dims', () => corrupt((h) => (h.graph.initializers[0].dims = [5]), /need 20 bytes/));

  it('an unknown data type', () => corrupt((h) => (h.graph.initializers[0].dataType = 99), /data type code 99/));

  it('a dangling node input', () => corrupt((h) => (h.graph.nodes[1].inputs[1] = 'ghost'), /input "ghost" names no graph input/));

  it('nodes out of order (a cycle)', () =>
    corrupt((h) => (h.graph.nodes[0].inputs[0] = 'y0'), /uses "y0" before node 1 produces it/));

  it('a value produced twice', () => corrupt((h) => (h.graph.nodes[1].outputs = ['h']), /output "h" is already defined/));

  it('a graph output nobody produces', () => corrupt((h) => (h.graph.outputs[0].name = 'zz'), /graph output "zz" is never produced/));

  it('a layer pointing at a missing node', () => corrupt((h) => (h.layers[0].nodeIndex = 9), /points to node 9/));

  it('a layer pointing at a node that does not use its weight', () =>
    corrupt((h) => (h.layers[0].nodeIndex = 1), /does not use weight "W"/));

  it('a rank above min(rows, cols)', () =>
    corrupt((h) => {
      h.layers[0].maxRank = 5;
      h.layers[0].sigma.push(0.1);
    }, /rank 5 exceeds min\(4, 8\)/));

  it('sigma of the wrong length', () => corrupt((h) => h.layers[0].sigma.pop(), /3 singular values for rank 4/));

  it('blocks with a gap', () => corrupt((h) => (h.layers[0].blocks[1].rankBegin = 3), /starts at rank 3, expected 2/));

  it('a factor block of the wrong length', () => corrupt((h) => (h.layers[0].blocks[0].left.length = 8), /expected 32 bytes/));

  it('a block in a tier that does not exist', () => corrupt((h) => (h.layers[0].blocks[1].tier = 2), /the file has 2 tiers/));

  it('a block outside its tier', () => corrupt((h) => (h.layers[0].blocks[0].tier = 1), /block 0 left factor \(32 bytes at offset \d+\) lies outside tier 1/));

  it('tier ranks that disagree with the blocks', () => corrupt((h) => (h.tiers[0].ranks = [3]), /rank 3, but its blocks up to tier 0 add up to 2/));

  it('tiers that are not contiguous', () =>
    corrupt((h) => (h.tiers[1].range = { offset: h.tiers[1].range.offset + 64, length: h.tiers[1].range.length - 64 }), /tier 1 starts at payload offset/));

  it('a preset that loads no tiers', () => corrupt((h) => (h.presets[0].tiers = 0), /loads 0 tiers, but the file has 2/));

  it('a preset that loads more tiers than exist', () => corrupt((h) => (h.presets[0].tiers = 3), /loads 3 tiers/));

  it('a negative measurement', () => corrupt((h) => (h.presets[0].latencyMsP95 = -5), /latencyMsP95 is -5/));
});

describe('int8 factors', () => {
  const layer = (h: LrmHeaderInput) => h.layers[0];

  it('an int8 block of fp32 length', () =>
    corrupt((h) => (layer(h).blocks[0].left.length = 2 * 4 * 4), /left factor holds 32 bytes, expected 8 bytes for 2 components × 4 rows of int8/, 'int8'));

  it('a left scale vector of the wrong length', () =>
    corrupt((h) => layer(h).leftScales!.pop(), /layer 0 \("fc"\) left scales has 3 entries for 4 rows/, 'int8'));

  it('a missing left scale vector', () => corrupt((h) => delete layer(h).leftScales, /left scales has 0 entries for 4 rows/, 'int8'));

  it('a right scale vector of the wrong length', () =>
    corrupt((h) => layer(h).blocks[1].rightScales!.push(1), /block 1 right scales has 3 entries for 2 components/, 'int8'));

  it('a block without right scales', () => corrupt((h) => delete layer(h).blocks[0].rightScales, /block 0 right scales has 0 entries for 2 components/, 'int8'));

  it('a negative scale', () => corrupt((h) => (layer(h).leftScales![1] = -0.5), /left scales\[1\] is -0.5; scales must be finite and ≥ 0/, 'int8'));

  it('a non-finite scale', () => corrupt((h) => (layer(h).blocks[0].rightScales![0] = Infinity), /right scales\[0\] is Infinity/, 'int8'));

  it('scales on float factors', async () => {
    await corrupt((h) => (layer(h).leftScales = [1, 1, 1, 1]), /has int8 left scales, but its factors are fp32/);
    await corrupt((h) => (layer(h).blocks[0].rightScales = [1, 1]), /block 0 has int8 right scales, but its factors are fp16/, 'fp16');
  });
});

describe('refit sections', () => {
  const refit = (h: LrmHeaderInput) => h.tiers[0].refit!;
  const corruptRefit = (edit: (h: LrmHeaderInput) => void, message: RegExp, dtype: FactorDType = 'fp32') => corrupt(edit, message, dtype, true);

  it('a refit for a layer that does not exist', () => corruptRefit((h) => (refit(h).layers[0].layer = 3), /refit 0 is for factored layer 3, but the file has 1/));
  it('a layer refitted twice', () => corruptRefit((h) => refit(h).layers.push({ ...refit(h).layers[0] }), /refits factored layer 0 a second time/));
  it('a refit left factor of the wrong rank', () => corruptRefit((h) => (refit(h).layers[0].left.length = 64), /left factor holds 64 bytes, expected 32 for rank 2/));
  it('a bias of the wrong length', () => corruptRefit((h) => (refit(h).layers[0].bias!.length = 12), /bias holds 12 bytes, expected 16/));
  it('a refit range outside its section', () => corruptRefit((h) => (refit(h).layers[0].left = { offset: h.tiers[1].range.offset, length: 32 }), /lies outside tier 0 refit section/));
  it('a refit section that is not after the tiers', () => corruptRefit((h) => (refit(h).range = { ...h.tiers[1].range }), /refit section starts at payload offset \d+, but tier 1 ends at/));
  it('int8 refits need their scales', () => corruptRefit((h) => delete refit(h).layers[0].leftScales, /refit 0 left scales has 0 entries for 4 rows/, 'int8'));
  it('float refits carry no scales', () => corruptRefit((h) => (refit(h).layers[0].leftScales = [1, 1, 1, 1]), /has int8 left scales, but its factors are fp32/));

  it('a flipped refit byte is LrmChecksumError naming the refit section of its tier', async () => {
    const { file, header } = await smallFile('fp32', { refit: true });
    const start = file.length - header.payloadLength;
    const e = await rejection(readLrm(flipped(file, start + header.tiers[0].refit!.range.offset + 3), { fileName: 'r.lrm' }));
    expect(e).toBeInstanceOf(LrmChecksumError);
    expect((e as LrmChecksumError).section).toBe('refit');
    expect((e as Error).message).toMatch(/refit section of tier 0 does not match its SHA-256/);
  });
});

describe('format v2: layers that run dense from a tier', () => {
  const corruptDense = async (edit: (h: LrmHeaderInput) => void, message: RegExp, dtype: FactorDType = 'fp32') => {
    const { input, payload } = denseFromTierModel(dtype);
    edit(input);
    const e = await rejection(readLrm(await writeLrm(input, payload, { validate: false }), { fileName: 'bad.lrm' }));
    expect(e).toBeInstanceOf(LrmCorruptHeaderError);
    expect((e as Error).message).toMatch(message);
  };
  const layer = (h: LrmHeaderInput) => h.layers[0]!;
  it('a file that says version 1', () => corruptDense((h) => (h.formatVersion = 1), /stores dense weights for some tiers \(format version 2\) but says format version 1/));
  it('a dense weight of the wrong length', () => corruptDense((h) => (layer(h).dense = { ...layer(h).dense!, length: 64 }), /dense weight holds 64 bytes, expected 128 for 4×8 of fp32/));
  it('a dense weight outside its tier', () => corruptDense((h) => (layer(h).dense = { offset: h.tiers[0].transient![0]!.range.offset, length: 128 }), /dense weight .* lies outside tier 1/));
  it('a dense tier the file does not have', () => corruptDense((h) => (layer(h).denseTier = 2), /runs dense from tier 2, but the file has 2 tiers/));
  it('a block in the tier where the layer is already dense', () => corruptDense((h) => (layer(h).denseTier = 0), /tier 0, which has no transient section for layers dense from tier 0/));
  // The transient section's bytes are still there: the layout check sees them first, as bytes no section owns.
  it('a transient section left out', () => corruptDense((h) => (h.tiers[0].transient = []), /the last section ends at payload offset \d+, but the payload is/));
  it('a block in a tier\'s own section, not its transient one', () => corruptDense((h) => (layer(h).blocks[0]!.left = { offset: h.tiers[1].range.offset, length: 32 }), /block 0 left factor .* lies outside tier 0's transient section/));
  it('a transient section for a dense tier not above its own', () => corruptDense((h) => (h.tiers[0].transient![0]!.denseTier = 0), /transient section for layers dense from tier 0, which must lie in 1\.\.1/));
  it('int8 dense weights need their scales', () => corruptDense((h) => delete layer(h).denseScales, /dense scales has 0 entries for 4 rows/, 'int8'));
  it('σ for some components: a file that says version 3', () => corruptDense((h) => (layer(h).sigma = layer(h).sigma.slice(0, 2), h.formatVersion = 3), /singular values only for its stored components \(format version 4\) but the file says format version 3/));
  it('σ neither for every component nor for the stored ones', () => corruptDense((h) => (layer(h).sigma = layer(h).sigma.slice(0, 1), h.formatVersion = 4), /has 1 singular values for rank 4 \(2 stored as factors\)/));
  it('the rank at the dense tier must be the full rank', () => corruptDense((h) => (h.tiers[1].ranks = [2]), /tier 1 gives factored layer 0 \("fc"\) rank 2, but .* add up to 4 \(it runs dense there: full rank\)/));
});

describe('format v2: quantised dense weights', () => {
  /** The small model's float32 'bias' [4] stored as int8 (4 bytes of its range) with one scale per element. */
  const asInt8 = (h: LrmHeaderInput) => {
    const t = h.graph.initializers[0]!;
    Object.assign(t, { storage: 'int8', scaleAxis: 0, scales: [0.5, 0.25, 0, 2], range: { offset: t.range.offset, length: 4 } });
    h.formatVersion = 2;
    return t;
  };
  it('a valid one reads back as written, and says format version 2', async () => {
    const { input, payload } = smallModel();
    asInt8(input);
    const { header } = await readLrm(await writeLrm(input, payload), { fileName: 'q.lrm' });
    expect(header.graph.initializers[0]).toMatchObject({ name: 'bias', storage: 'int8', scaleAxis: 0, scales: [0.5, 0.25, 0, 2] });
    expect(header.graph.initializers[1]!.storage).toBeUndefined();
  });
  it('scales of the wrong length', () => corrupt((h) => (asInt8(h).scales = [1, 1]), /initializer 0 \("bias"\) scales has 2 entries for 4 indices of axis 0/));
  it('scales along an axis a 1-D weight lacks', () => corrupt((h) => (asInt8(h).scaleAxis = 1), /scales along axis 1 of 1 dims; they must run along axis 0, or axis 1 of a 2-D weight/));
  it('a quantised weight that is not float32', () => corrupt((h) => Object.assign(h.graph.initializers[1]!, { storage: 'fp16' }, (h.formatVersion = 2) && {}), /initializer 1 \("shape"\) is stored as fp16, but only float32 weights can be/));
  it('a file that says version 1', () => corrupt((h) => ((asInt8(h), (h.formatVersion = 1))), /stores quantised dense weights \(format version 2\) but says format version 1/));
});
