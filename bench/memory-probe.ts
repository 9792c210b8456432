/**
 * One measurement for bench/memory.ts, in a fresh process: peak RSS growth of load(.lrm bytes, { tiers }) plus
 * one run on zero inputs, against the RSS after reading the file and importing onnxruntime-node.
 * Usage: node dist/bench/memory-probe.js <model.lrm> <tiers>; prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { engineWeightBytes, heldFileBytes } from '../runtime/memory-estimate.js';
import { load } from '../runtime/node.js';
import type { Feeds, HostTensor } from '../runtime/tensor.js';
import type { ValueInfo } from '../formats/model.js';

function zeros(v: ValueInfo): HostTensor {
  const dims = v.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  if (v.dataType === 7) return { dataType: 'int64', dims, data: new BigInt64Array(n) };
  return { dataType: 'float32', dims, data: new Float32Array(n) };
}

const [path, tiersArg] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(path));
await import('onnxruntime-node');
const baseline = process.memoryUsage().rss;
const session = await load(bytes, { tiers: Number(tiersArg), engine: 'ort-node-cpu' });
const feeds: Feeds = Object.fromEntries(session.inputs.map((v) => [v.name, zeros(v)]));
let ran = true;
try {
  await session.run(feeds);
} catch {
  ran = false;
}
const peak = process.resourceUsage().maxRSS * 1024;
const header = session.header;
const payloadStart = bytes.length - header.payloadLength;
console.log(JSON.stringify({
  tiers: session.tiers,
  ran,
  heldBytes: heldFileBytes(header, payloadStart, session.tiers),
  weightBytes: engineWeightBytes(header, session.tiers),
  growthBytes: peak - baseline,
  estimateMb: session.choice.memoryMb,
}));
await session.release();
