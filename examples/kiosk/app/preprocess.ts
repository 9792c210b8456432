/**
 * A photo as the model wants it, exactly as the compiler and the tests prepare photos (compiler/data/resample.ts,
 * Pillow's antialiased bilinear): short side to 256/224 of the input size, centre crop, RGB scaled to 0..1 then
 * normalised, NCHW float32. The browser decodes (createImageBitmap); its own resampling is not used for the
 * final size, because Chromium's filters differ from Pillow's by ~5 levels per pixel on average, enough to turn
 * dog.jpg's "tandem bicycle" into "malamute" on this model.
 */
import { centerCrop, resizeShortSide, type Image } from '../../../compiler/data/resample.js';
import type { HostTensor } from '../../../runtime/browser-webgpu.js';

/** Evaluation crop: the centre 224 of 256. */
const CROP_FRACTION = 224 / 256;
/** Camera frames and phone photos are downscaled by the browser to this short side first: the JS filter is then cheap. */
const MAX_DECODED_SHORT_SIDE = 1024;

export interface InputSpec {
  size: number;
  mean: number[];
  std: number[];
}

export async function imageToTensor(source: ImageBitmapSource, spec: InputSpec): Promise<HostTensor> {
  const rgb = await decode(source);
  const cropped = centerCrop(resizeShortSide(rgb, Math.round(spec.size / CROP_FRACTION)), spec.size, spec.size);
  return { dataType: 'float32', dims: [1, 3, spec.size, spec.size], data: toChw(cropped, spec) };
}

/** Decoded RGB pixels (HWC, 8 bits), at most MAX_DECODED_SHORT_SIDE on the short side. */
async function decode(source: ImageBitmapSource): Promise<Image> {
  let bitmap = await createImageBitmap(source);
  const scale = MAX_DECODED_SHORT_SIDE / Math.min(bitmap.width, bitmap.height);
  if (scale < 1) {
    const smaller = await createImageBitmap(bitmap, { resizeWidth: Math.round(bitmap.width * scale), resizeHeight: Math.round(bitmap.height * scale), resizeQuality: 'high' });
    bitmap.close();
    bitmap = smaller;
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  bitmap.close();
  const data = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) data.set(rgba.subarray(i, i + 3), j);
  return { width: canvas.width, height: canvas.height, channels: 3, data };
}

/** HWC RGB → three normalised planes (R, G, B). */
function toChw(img: Image, spec: InputSpec): Float32Array {
  const pixels = img.width * img.height;
  const out = new Float32Array(3 * pixels);
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c] ?? spec.mean[0];
    const std = spec.std[c] ?? spec.std[0];
    for (let i = 0; i < pixels; i++) out[c * pixels + i] = (img.data[i * 3 + c] / 255 - mean) / std;
  }
  return out;
}
