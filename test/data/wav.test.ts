import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { parseWav, readWav } from '../../compiler/data/wav.js';
import { DataFormatError, UnsupportedDataError } from '../../compiler/data/errors.js';
import { SHARED } from './helpers.js';

/** A canonical WAV: RIFF header, an optional LIST chunk, 'fmt ' (16 or 40 bytes), then 'data'. */
function wav(opts: { format: number; channels: number; rate: number; bits: number; data: Uint8Array; extensibleSub?: number; list?: boolean }): Uint8Array {
  const fmtSize = opts.extensibleSub !== undefined ? 40 : 16;
  const list = opts.list ? 8 + 5 + 1 : 0; // odd-sized chunk plus its pad byte
  const out = new Uint8Array(12 + list + 8 + fmtSize + 8 + opts.data.length);
  const v = new DataView(out.buffer);
  const tag = (at: number, s: string) => [...s].forEach((ch, k) => (out[at + k] = ch.charCodeAt(0)));
  tag(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  tag(8, 'WAVE');
  let at = 12;
  if (opts.list) {
    tag(at, 'LIST');
    v.setUint32(at + 4, 5, true);
    at += 8 + 6;
  }
  tag(at, 'fmt ');
  v.setUint32(at + 4, fmtSize, true);
  v.setUint16(at + 8, opts.extensibleSub !== undefined ? 0xfffe : opts.format, true);
  v.setUint16(at + 10, opts.channels, true);
  v.setUint32(at + 12, opts.rate, true);
  v.setUint32(at + 16, (opts.rate * opts.channels * opts.bits) / 8, true);
  v.setUint16(at + 20, (opts.channels * opts.bits) / 8, true);
  v.setUint16(at + 22, opts.bits, true);
  if (opts.extensibleSub !== undefined) v.setUint16(at + 32, opts.extensibleSub, true);
  at += 8 + fmtSize;
  tag(at, 'data');
  v.setUint32(at + 4, opts.data.length, true);
  out.set(opts.data, at + 8);
  return out;
}

describe('wav', () => {
  it('reads the silero test file: 16 kHz mono PCM16, 60 s', async () => {
    const a = await readWav(join(SHARED, 'audio/silero_test.wav'));
    expect(a.sampleRate).toBe(16000);
    expect(a.channels).toBe(1);
    expect(a.encoding).toBe('pcm16');
    expect(a.samples.length).toBe(960000);
    expect(a.durationSeconds).toBeCloseTo(60, 6);
    let peak = 0;
    for (const s of a.samples) peak = Math.max(peak, Math.abs(s));
    expect(peak).toBeGreaterThan(0.05);
    expect(peak).toBeLessThanOrEqual(1);
  });

  it('scales PCM16 by 1/32768 and skips unknown chunks', () => {
    const pcm = new Uint8Array(Int16Array.from([-32768, 0, 16384, 32767]).buffer);
    const a = parseWav(wav({ format: 1, channels: 1, rate: 8000, bits: 16, data: pcm, list: true }));
    expect([...a.samples]).toEqual([-1, 0, 0.5, 32767 / 32768].map(Math.fround));
  });

  it('takes channel 0 of a stereo float32 file (plain and WAVE_FORMAT_EXTENSIBLE)', () => {
    const data = new Uint8Array(Float32Array.from([0.25, -1, -0.5, 1]).buffer);
    for (const a of [
      parseWav(wav({ format: 3, channels: 2, rate: 44100, bits: 32, data })),
      parseWav(wav({ format: 0, channels: 2, rate: 44100, bits: 32, data, extensibleSub: 3 })),
    ]) {
      expect(a.encoding).toBe('float32');
      expect([a.channels, a.sampleRate]).toEqual([2, 44100]);
      expect([...a.samples]).toEqual([0.25, -0.5]);
    }
  });

  it('refuses other encodings and malformed files with typed errors', () => {
    expect(() => parseWav(wav({ format: 1, channels: 1, rate: 8000, bits: 24, data: new Uint8Array(6) }), 'a.wav')).toThrow(
      /a\.wav: 24-bit PCM WAV is not supported .*ffmpeg/,
    );
    expect(() => parseWav(wav({ format: 7, channels: 1, rate: 8000, bits: 8, data: new Uint8Array(2) }))).toThrow(UnsupportedDataError);
    expect(() => parseWav(new TextEncoder().encode('RIFX\0\0\0\0WAVE'))).toThrow(UnsupportedDataError);
    expect(() => parseWav(new TextEncoder().encode('not a wav file at all'))).toThrow(DataFormatError);
    const truncated = wav({ format: 1, channels: 1, rate: 8000, bits: 16, data: new Uint8Array(8) });
    expect(() => parseWav(truncated.subarray(0, truncated.length - 2))).toThrow(/truncated/);
  });
});
