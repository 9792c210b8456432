import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { IMAGENET_SYNSETS } from '../../compiler/data/imagenet-synsets.js';
import { listImagenet, parseClassNames, parseSynsets, readClassNames, readSynsets, type LabelledFiles } from '../../compiler/data/imagenet.js';
import { DataEmptyError, DataFormatError, DataSpecError } from '../../compiler/data/errors.js';
import { SHARED, scratchDir } from './helpers.js';

const SAMPLE = join(SHARED, 'imagenet-sample');
const SYNSET_LINES = readFileSync(join(SHARED, 'labels/synset.txt'), 'utf8').split('\n').filter((l) => l !== '');

describe('built-in synsets', () => {
  it('are the wnids of labels/synset.txt, in order', () => {
    expect(IMAGENET_SYNSETS).toEqual(SYNSET_LINES.map((l) => l.split(' ')[0]));
    expect(IMAGENET_SYNSETS.length).toBe(1000);
    expect(Object.isFrozen(IMAGENET_SYNSETS)).toBe(true);
  });

  it('parse from a synset file the same way', async () => {
    expect(await readSynsets(join(SHARED, 'labels/synset.txt'))).toEqual(IMAGENET_SYNSETS);
  });
});

describe('imagenet-sample listing', () => {
  let listed: LabelledFiles;
  beforeAll(async () => {
    listed = await listImagenet(SAMPLE);
  });

  it('finds the 500 images in sorted order', () => {
    expect(listed.files.length).toBe(500);
    const names = listed.files.map((f) => basename(f));
    expect(names).toEqual([...names].sort());
    expect(names[0]).toBe('n01440764_tench.JPEG');
  });

  it("labels each file with its wnid's 0-based line in synset.txt", () => {
    listed.files.forEach((f, i) => {
      const wnid = basename(f).slice(0, 9);
      expect(listed.wnids[i]).toBe(wnid);
      expect(SYNSET_LINES[listed.labels[i]!]!.startsWith(`${wnid} `)).toBe(true);
    });
    // The sample holds the classes on even lines.
    expect([...listed.labels].every((l) => l % 2 === 0)).toBe(true);
  });

  it('keeps filenames with an apostrophe', () => {
    const i = listed.files.findIndex((f) => f.includes("lady's_slipper"));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(listed.labels[i]).toBe(IMAGENET_SYNSETS.indexOf('n12057211'));
  });
});

describe('label files and layouts (synthetic)', () => {
  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);

  it('uses a --labels file for the class order, and supports <wnid>/ class folders', async () => {
    const d = join(dir, 'folders');
    mkdirSync(join(d, 'n01443537'), { recursive: true });
    copyFileSync(join(SAMPLE, 'n01440764_tench.JPEG'), join(d, 'n01440764_x.jpg'));
    copyFileSync(join(SAMPLE, 'n01440764_tench.JPEG'), join(d, 'n01443537', 'img 1.jpeg'));
    writeFileSync(join(d, 'notes.txt'), 'ignored');
    const labels = join(dir, 'two.txt');
    writeFileSync(labels, 'n01443537 goldfish\r\nn01440764 tench\r\n\r\n');
    const listed = await listImagenet(d, await readSynsets(labels), labels);
    expect(listed.files.map((f) => f.slice(d.length + 1))).toEqual(['n01440764_x.jpg', join('n01443537', 'img 1.jpeg')]);
    expect([...listed.labels]).toEqual([1, 0]);
    await expect(listImagenet(d, ['n01440764'], labels)).rejects.toThrow(/class n01443537 is not in .*two\.txt; pass the matching synset file with --labels/);
    await expect(listImagenet(d, ['n01440764'])).rejects.toThrow(DataSpecError);
  });

  it('refuses JPEGs without a wnid prefix, empty folders and bad synset files', async () => {
    const d = join(dir, 'unlabelled');
    mkdirSync(d);
    await expect(listImagenet(d)).rejects.toThrow(DataEmptyError);
    writeFileSync(join(d, 'cat.jpg'), 'x');
    await expect(listImagenet(d)).rejects.toThrow(/does not start with '<wnid>_'.*images:<dir>/);
    expect(() => parseSynsets('n01440764 a\n\nn01443537 b\n', 'l.txt')).toThrow(/l\.txt:2: expected a WordNet id/);
    expect(() => parseSynsets('n01440764\nn01440764\n', 'l.txt')).toThrow(/already on line 1/);
    expect(() => parseSynsets('', 'l.txt')).toThrow(DataFormatError);
  });
});

describe('class names (lowrank run --labels)', () => {
  it('a synset file gives each class its first name, in class order', async () => {
    const names = await readClassNames(join(SHARED, 'labels/synset.txt'));
    expect(names).toHaveLength(1000);
    expect(names.slice(0, 2)).toEqual(['tench', 'goldfish']);
    expect(parseClassNames('n01440764\r\nn01443537 goldfish, Carassius auratus\r\n')).toEqual(['n01440764', 'goldfish']);
  });

  it('any other file is one name per line; a blank line inside is refused', async () => {
    const coco = await readClassNames(join(SHARED, 'labels/coco.names'));
    expect(coco).toHaveLength(80);
    expect(coco[0]).toBe('person');
    expect(parseClassNames('traffic light\nstop sign\n\n')).toEqual(['traffic light', 'stop sign']);
    expect(() => parseClassNames('cat\n\ndog\n', 'l.txt')).toThrow(/l\.txt:2: blank line/);
    expect(() => parseClassNames('\n', 'l.txt')).toThrow(DataFormatError);
    // A synset file stays strict: a line without its wnid would shift the classes.
    expect(() => parseClassNames('n01440764 tench\ngoldfish\n', 'l.txt')).toThrow(/l\.txt:2: expected a WordNet id/);
  });
});
