/**
 * Semantic checks of an AdapterHeader, run by the reader before it touches the payload and by the writer before it
 * writes: dims by the shared rule (adapterLayerProblem), factor shapes, every byte range inside the payload and in
 * layout order, int8 scales, unique targets. Because factors lie in order without overlap, the float32 factors the
 * reader returns take at most 4 / (bytes per stored value) times the payload: a file cannot make it allocate more.
 */
import { ADAPTER_ELEMENT_BYTES, type AdapterHeader, type AdapterLayerEntry } from './adapter-header.js';
import { adapterFactorShapes, adapterLayerProblem } from './adapter-model.js';
import { lraCorrupt, REEXPORT } from './adapter-errors.js';
import { formatBytes as fmt } from './errors.js';
import { align } from './framing.js';
import { PAYLOAD_ALIGNMENT } from './model.js';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Throws LraFormatError (code LRM_CORRUPT_HEADER) with the first problem found; `fix` is the advice it gives. */
export function validateAdapterHeader(header: AdapterHeader, fileName: string, fix = REEXPORT): void {
  const fail = (problem: string): never => {
    throw lraCorrupt(fileName, problem, fix);
  };
  if (!HEX_SHA256.test(header.base.headerSha256)) fail(`the base header SHA-256 "${header.base.headerSha256.slice(0, 16)}" is not 64 lowercase hex digits`);
  if (!HEX_SHA256.test(header.payloadSha256)) fail('the payload SHA-256 is not 64 lowercase hex digits');
  if (!Number.isSafeInteger(header.payloadLength) || header.payloadLength < 0) fail(`the payload length ${header.payloadLength} is impossible`);
  if (header.layers.length === 0) fail('it has no layers, so it changes nothing');
  const targets = new Set<string>();
  let end = 0;
  header.layers.forEach((layer, i) => {
    const where = `layer ${i} ("${layer.target.slice(0, 80)}")`;
    const problem = layerProblem(header, layer, end);
    if (problem !== undefined) fail(`${where}: ${problem}`);
    if (targets.has(layer.target)) fail(`${where} changes the same weight as an earlier layer`);
    targets.add(layer.target);
    const last = layer.factors.at(-1)!.range;
    end = last.offset + last.length;
  });
  // The writer leaves no bytes but the alignment padding after the last factor.
  if (header.payloadLength !== align(end)) fail(`the payload is ${fmt(header.payloadLength)} bytes, its factors need ${fmt(align(end))}`);
}

/** The first problem of one layer, or undefined; `end` is where the previous layer's last factor ends. */
function layerProblem(header: AdapterHeader, layer: AdapterLayerEntry, end: number): string | undefined {
  if (layer.target === '') return 'it names no target weight';
  const dims = adapterLayerProblem(header.kind, layer);
  if (dims !== undefined) return dims;
  const shapes = adapterFactorShapes(header.kind, layer);
  if (layer.factors.length !== shapes.length) return `it has ${layer.factors.length} factors, a ${header.kind} layer has ${shapes.length}`;
  const int8 = header.dtype === 'int8';
  for (const [j, { range, scales }] of layer.factors.entries()) {
    const [rows, cols] = shapes[j]!;
    const expected = rows * cols * ADAPTER_ELEMENT_BYTES[header.dtype];
    if (range.length !== expected) return `factor ${j} (${rows}×${cols} ${header.dtype}) is ${fmt(range.length)} bytes, expected ${fmt(expected)}`;
    if (range.offset % PAYLOAD_ALIGNMENT !== 0) return `factor ${j} starts at payload offset ${fmt(range.offset)}, not a multiple of ${PAYLOAD_ALIGNMENT}`;
    if (range.offset < end) return `factor ${j} starts at payload offset ${fmt(range.offset)}, inside the factor before it (which ends at ${fmt(end)})`;
    end = range.offset + range.length;
    if (end > header.payloadLength) return `factor ${j} ends at payload offset ${fmt(end)}, past the payload end ${fmt(header.payloadLength)}`;
    const count = scales?.length ?? 0;
    if (int8 && count !== rows) return `factor ${j} has ${count} int8 scales, expected ${rows} (one per row)`;
    if (!int8 && count !== 0) return `factor ${j} has ${count} scales, but only int8 factors have scales`;
    if (scales?.some((s) => !Number.isFinite(s) || s < 0)) return `factor ${j} has a scale that is negative or not finite`;
  }
  return undefined;
}
