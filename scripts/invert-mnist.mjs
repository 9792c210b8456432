#!/usr/bin/env node
// Inverted-contrast MNIST (issue 17's "camera mounted differently": light digits on dark become dark on light):
//   node scripts/invert-mnist.mjs <src dir> <out dir>
// reads the IDX files of <src dir> (gzipped or not, t10k and/or train), writes each split's images with every
// pixel p as 255 − p and its labels unchanged, uncompressed, under the standard names, so that
// `--data mnist:<out dir>` (with --offset/--limit for disjoint halves) reads them like the original.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: node scripts/invert-mnist.mjs <src dir> <out dir>');
  process.exit(2);
}

/** The file (gzipped or not, either spelling) of a split, or undefined. */
function find(split, kind) {
  const rank = kind === 'images' ? 3 : 1;
  for (const name of [`${split}-${kind}-idx${rank}-ubyte`, `${split}-${kind}.idx${rank}-ubyte`]) {
    for (const ext of ['', '.gz']) if (existsSync(join(src, name + ext))) return join(src, name + ext);
  }
  return undefined;
}

function read(path) {
  const raw = readFileSync(path);
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}

/** Checks the IDX header (unsigned bytes, `rank` dims, size matching) and returns the header length. */
function idxHeader(bytes, rank, path) {
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== rank) throw new Error(`${path}: not an IDX file of ${rank}-D unsigned bytes`);
  const dims = Array.from({ length: rank }, (_, k) => bytes.readUInt32BE(4 + 4 * k));
  const length = 4 + 4 * rank;
  if (bytes.length - length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${path}: IDX header says [${dims.join(', ')}] but the file has ${bytes.length - length} bytes of data`);
  return { length, count: dims[0] };
}

mkdirSync(out, { recursive: true });
let written = 0;
for (const split of ['t10k', 'train']) {
  const imagesPath = find(split, 'images');
  const labelsPath = find(split, 'labels');
  if (!imagesPath || !labelsPath) continue;
  const images = Buffer.from(read(imagesPath));
  const labels = read(labelsPath);
  const { length, count } = idxHeader(images, 3, imagesPath);
  const labelCount = idxHeader(labels, 1, labelsPath).count;
  if (count !== labelCount) throw new Error(`${src}: ${count} ${split} images but ${labelCount} labels`);
  for (let i = length; i < images.length; i++) images[i] = 255 - images[i];
  writeFileSync(join(out, `${split}-images-idx3-ubyte`), images);
  writeFileSync(join(out, `${split}-labels-idx1-ubyte`), labels);
  console.log(`${split}: ${count} images inverted → ${join(out, `${split}-images-idx3-ubyte`)}`);
  written++;
}
if (written === 0) {
  console.error(`no MNIST files in ${src}: expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] (or train-…)`);
  process.exit(1);
}
