/**
 * ImageNet-style labelled image folders.
 *
 * Accepted layouts (both may be mixed):
 *  - flat: `<dir>/<wnid>_anything.JPEG` (e.g. the imagenet-sample gallery);
 *  - per class: `<dir>/<wnid>/anything.JPEG` (torchvision ImageFolder, the usual ILSVRC val layout).
 * The label is the 0-based index of the wnid in a synset list: by default the standard 1000-class order shipped in
 * imagenet-synsets.ts, or the lines of a `--labels` file. File order is a code-unit sort of the relative paths, so
 * every machine sees the same order and offset/limit slices are reproducible.
 */
import { join } from 'node:path';
import { DataEmptyError, DataFormatError, DataSpecError } from './errors.js';
import { listDirectory, readFileOrThrow, compareCodeUnits } from './files.js';
import { IMAGENET_SYNSETS } from './imagenet-synsets.js';

/** torchvision's ImageNet normalisation, applied after scaling pixels to 0..1. */
export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);
/** The standard evaluation crop. The short side before it defaults to 224 / 0.875 = 256 (see image.ts). */
export const IMAGENET_CROP = 224;

const WNID = /^n\d{8}$/;
const JPEG_NAME = /\.jpe?g$/i;

export function isJpegName(name: string): boolean {
  return JPEG_NAME.test(name) && !name.startsWith('.');
}

/**
 * Parses a synset/label file: one class per line, the wnid as the first token (`n01440764 tench, Tinca tinca`
 * or just `n01440764`). Blank lines are refused except at the end, because a skipped line would shift every
 * later class index by one.
 */
export function parseSynsets(text: string, source = 'labels file'): string[] {
  const lines = labelLines(text);
  const seen = new Map<string, number>();
  const out: string[] = [];
  lines.forEach((line, i) => {
    const token = line.trim().split(/\s+/)[0] ?? '';
    if (!WNID.test(token)) {
      throw new DataFormatError(`${source}:${i + 1}: expected a WordNet id like n01440764 at the start of the line, got '${line.slice(0, 40)}'`);
    }
    const prev = seen.get(token);
    if (prev !== undefined) throw new DataFormatError(`${source}:${i + 1}: wnid ${token} already on line ${prev + 1}`);
    seen.set(token, i);
    out.push(token);
  });
  if (out.length === 0) throw new DataFormatError(`${source}: no classes in the file`);
  return out;
}

export async function readSynsets(path: string): Promise<string[]> {
  const bytes = await readFileOrThrow(path, 'labels file');
  return parseSynsets(new TextDecoder('utf-8').decode(bytes), path);
}

/** The lines of a labels file, without the blank lines at its end. */
function labelLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines;
}

/**
 * Class names to print (`lowrank run --labels`), in class order. A synset file (every line starts with a wnid,
 * checked as parseSynsets does) gives each line's first name: `n01440764 tench, Tinca tinca` → `tench`, or the wnid
 * when the line has nothing else. Any other file is one name per line (coco.names); a blank line inside it is
 * refused, as it would shift every later class by one.
 */
export function parseClassNames(text: string, source = 'labels file'): string[] {
  const lines = labelLines(text);
  if (lines.length === 0) throw new DataFormatError(`${source}: no classes in the file`);
  if (WNID.test(lines[0]!.trim().split(/\s+/)[0] ?? '')) {
    const wnids = parseSynsets(text, source);
    return lines.map((line, i) => line.trim().slice(wnids[i]!.length).split(',')[0]!.trim() || wnids[i]!);
  }
  return lines.map((line, i) => {
    if (line.trim() === '') throw new DataFormatError(`${source}:${i + 1}: blank line; one class name per line (a blank line would shift every later class by one)`);
    return line.trim();
  });
}

export async function readClassNames(path: string): Promise<string[]> {
  const bytes = await readFileOrThrow(path, 'labels file');
  return parseClassNames(new TextDecoder('utf-8').decode(bytes), path);
}

export interface LabelledFiles {
  /** Full paths, in the deterministic order described above. */
  files: string[];
  labels: Int32Array;
  /** The wnid of each file (parallel to `files`). */
  wnids: string[];
}

/**
 * Lists a labelled ImageNet folder. A JPEG whose name (or folder) gives no wnid, or a wnid missing from the
 * synset list, is an error rather than a silent skip: a dropped image would change the measured accuracy.
 * Other files (README, .txt, hidden files) are ignored.
 */
export async function listImagenet(dir: string, synsets: readonly string[] = IMAGENET_SYNSETS, labelsSource = 'the built-in 1000-class list'): Promise<LabelledFiles> {
  const index = new Map<string, number>();
  synsets.forEach((w, i) => index.set(w, i));
  const found: { rel: string; path: string; wnid: string }[] = [];
  for (const e of await listDirectory(dir, 'ImageNet directory')) {
    if (e.isDirectory && WNID.test(e.name)) {
      const sub = join(dir, e.name);
      for (const f of await listDirectory(sub, 'class directory')) {
        if (f.isFile && isJpegName(f.name)) found.push({ rel: `${e.name}/${f.name}`, path: join(sub, f.name), wnid: e.name });
      }
    } else if (e.isFile && isJpegName(e.name)) {
      const wnid = e.name.slice(0, 9);
      if (!WNID.test(wnid) || e.name[9] !== '_') {
        throw new DataFormatError(`${join(dir, e.name)}: name does not start with '<wnid>_' (like n01440764_tench.JPEG); use images:<dir> for unlabelled images`);
      }
      found.push({ rel: e.name, path: join(dir, e.name), wnid });
    }
  }
  if (found.length === 0) {
    throw new DataEmptyError(`no JPEG images in ${dir}: expected <wnid>_*.JPEG files or <wnid>/ class folders`);
  }
  found.sort((a, b) => compareCodeUnits(a.rel, b.rel));
  const labels = new Int32Array(found.length);
  found.forEach((f, i) => {
    const label = index.get(f.wnid);
    if (label === undefined) {
      throw new DataSpecError(`${f.path}: class ${f.wnid} is not in ${labelsSource}; pass the matching synset file with --labels`);
    }
    labels[i] = label;
  });
  return { files: found.map((f) => f.path), labels, wnids: found.map((f) => f.wnid) };
}
