/**
 * WAV (RIFF/WAVE) reader for audio models: 16-bit PCM or 32-bit IEEE float, returned as float samples in -1..1.
 * Multi-channel files yield channel 0 (the models we target are mono). Other encodings (8/24-bit PCM, A-law,
 * ADPCM, RF64, big-endian RIFX) are refused with a message saying how to convert, rather than guessed at.
 */
import { DataFormatError, UnsupportedDataError } from './errors.js';
import { readFileOrThrow } from './files.js';

export interface WavAudio {
  sampleRate: number;
  /** Channels in the file; `samples` holds channel 0 only. */
  channels: number;
  /** 'pcm16' or 'float32': the encoding the samples were read from. */
  encoding: 'pcm16' | 'float32';
  samples: Float32Array;
  durationSeconds: number;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

const CONVERT_HINT = 'convert it with e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`';

export function parseWav(bytes: Uint8Array, source = 'WAV data'): WavAudio {
  if (bytes.length < 12) throw new DataFormatError(`${source}: too short to be a WAV file`);
  const riff = fourcc(bytes, 0);
  if (riff === 'RIFX' || riff === 'RF64') throw new UnsupportedDataError(`${source}: ${riff} WAV files are not supported; ${CONVERT_HINT}`);
  if (riff !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') throw new DataFormatError(`${source}: not a WAV file (no RIFF/WAVE header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let data: { start: number; length: number } | undefined;
  // Walk the chunks; unknown ones (LIST, fact, cue) are skipped. Chunks are padded to an even size.
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = fourcc(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new DataFormatError(`${source}: truncated 'fmt ' chunk`);
      let format = view.getUint16(body, true);
      if (format === FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.length) format = view.getUint16(body + 24, true); // SubFormat GUID's first 2 bytes
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      // Writers to a pipe cannot seek back and leave the size as 0xFFFFFFFF: the data runs to the end of the file.
      const streaming = size === 0xffffffff;
      if (!streaming && body + size > bytes.length) {
        throw new DataFormatError(`${source}: data chunk declares ${size} bytes but only ${bytes.length - body} remain (truncated file?)`);
      }
      data = { start: body, length: streaming ? bytes.length - body : size };
      if (fmt) break;
    }
    at = body + size + (size & 1);
  }
  if (!fmt) throw new DataFormatError(`${source}: WAV file has no 'fmt ' chunk`);
  if (!data) throw new DataFormatError(`${source}: WAV file has no 'data' chunk`);
  const { format, channels, sampleRate, bits } = fmt;
  let encoding: WavAudio['encoding'];
  if (format === FORMAT_PCM && bits === 16) encoding = 'pcm16';
  else if (format === FORMAT_FLOAT && bits === 32) encoding = 'float32';
  else {
    const name = format === FORMAT_PCM ? `${bits}-bit PCM` : format === FORMAT_FLOAT ? `${bits}-bit float` : `format code ${format}`;
    throw new UnsupportedDataError(`${source}: ${name} WAV is not supported (16-bit PCM or 32-bit float only); ${CONVERT_HINT}`);
  }
  if (channels < 1) throw new DataFormatError(`${source}: WAV header says ${channels} channels`);
  if (sampleRate < 1) throw new DataFormatError(`${source}: WAV header says sample rate ${sampleRate}`);
  const bytesPerSample = bits / 8;
  const frameSize = channels * bytesPerSample;
  if (fmt.blockAlign !== frameSize) {
    throw new DataFormatError(`${source}: WAV block align ${fmt.blockAlign} does not match ${channels} channel(s) of ${bits} bits`);
  }
  const frames = Math.floor(data.length / frameSize);
  const samples = new Float32Array(frames);
  for (let i = 0, p = data.start; i < frames; i++, p += frameSize) {
    // PCM16 is scaled by 1/32768, the usual convention (torchaudio, soundfile): -32768 maps to exactly -1.
    samples[i] = encoding === 'pcm16' ? view.getInt16(p, true) / 32768 : view.getFloat32(p, true);
  }
  return { sampleRate, channels, encoding, samples, durationSeconds: frames / sampleRate };
}

export async function readWav(path: string): Promise<WavAudio> {
  return parseWav(await readFileOrThrow(path, 'WAV file'), path);
}
