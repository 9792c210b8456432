/**
 * A known picture for Chromium's fake camera: `--use-fake-device-for-media-stream` with
 * `--use-file-for-fake-video-capture=<file.y4m>` plays that file's frames (looped) as the camera. Y4M (YUV4MPEG2)
 * is a text header and raw planes, so the frame is written here from a decoded photo rather than kept as a file.
 */
import { writeFileSync } from 'node:fs';
import type { Image } from '../../compiler/data/resample.js';

/** The launch flags that make getUserMedia answer, without a prompt, with the frames of `y4m`. */
export function fakeCameraArgs(y4m: string): string[] {
  return ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`];
}

/**
 * Writes one 8-bit RGB image as a one-frame 4:2:0 Y4M. BT.601 limited range ("studio swing"), the matrix Chromium
 * assumes for camera frames that carry no colour space, so the page reads back close to the original pixels
 * (the 4:2:0 chroma, averaged over 2×2 blocks, is the only real loss). Odd edges are dropped: 4:2:0 needs even sizes.
 */
export function writeY4m(path: string, image: Image): void {
  if (image.channels !== 3) throw new Error(`writeY4m needs RGB, got ${image.channels} channels`);
  const width = image.width & ~1;
  const height = image.height & ~1;
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\nFRAME\n`, 'ascii');
  const y = new Uint8Array(width * height);
  const u = new Uint8Array((width / 2) * (height / 2));
  const v = new Uint8Array(u.length);
  const rgb = (row: number, col: number) => {
    const i = (row * image.width + col) * 3;
    return [image.data[i], image.data[i + 1], image.data[i + 2]];
  };
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const [r, g, b] = rgb(row, col);
      y[row * width + col] = clamp(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    }
  }
  for (let row = 0; row < height; row += 2) {
    for (let col = 0; col < width; col += 2) {
      // The mean colour of the 2×2 block, then its chroma.
      const block = [rgb(row, col), rgb(row, col + 1), rgb(row + 1, col), rgb(row + 1, col + 1)];
      const [r, g, b] = [0, 1, 2].map((c) => block.reduce((sum, p) => sum + p[c], 0) / 4 / 255);
      const k = (row / 2) * (width / 2) + col / 2;
      u[k] = clamp(128 - 37.797 * r - 74.203 * g + 112 * b);
      v[k] = clamp(128 + 112 * r - 93.786 * g - 18.214 * b);
    }
  }
  writeFileSync(path, Buffer.concat([header, y, u, v]));
}

function clamp(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value)));
}
