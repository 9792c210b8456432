// The main job on the bundled default model: compile MNIST-8 (ONNX Model Zoo, MIT) into a nested int8 .lrm,
// calibrated on the first 200 of the 500 bundled MNIST test digits, show its tiers, evaluate every tier against the
// original on the other 300, and say which is the smallest tier that keeps the accuracy and what it costs in bytes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';

const out = 'examples/out';
const onnx = 'examples/mnist/mnist-8.onnx';
const lrm = `${out}/mnist-8.lrm`;
mkdirSync(out, { recursive: true });
const lowrank = (args, { quiet = false } = {}) => {
  if (!quiet) console.log(`\n$ lowrank ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/lowrank.js', ...args], { stdio: quiet ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r.stdout;
};

// MNIST-8 is tiny (6k weights): --min-params 1024 lets its larger conv be factored, and rank steps of 1 (instead
// of 8) give it distinct tiers. Calibration and evaluation digits are disjoint.
lowrank(['compile', onnx, '-o', lrm, '--min-params', '1024', '--rank-multiple', '1', '--dtype', 'int8', '--tiers', '0.5,0.75,1', '--calib', 'mnist:examples/mnist', '--calib-limit', '200']);
lowrank(['inspect', lrm]);
const evalArgs = ['eval', lrm, '--data', 'mnist:examples/mnist', '--offset', '200', '--reference', onnx, '--all-tiers'];
lowrank(evalArgs);

// The summary: the smallest tier within one point of the original (300 digits: a point is 3 of them).
const result = JSON.parse(lowrank([...evalArgs, '--json'], { quiet: true }));
const onnxBytes = statSync(onnx).size;
const original = result.reference.accuracy;
const kept = result.tiers.find((t) => t.accuracy >= original - 1);
console.log(`\nThe original: ${original.toFixed(2)}% on ${result.samples} held-out digits, ${(onnxBytes / 1024).toFixed(1)} KiB.`);
if (kept) {
  console.log(`Smallest tier within 1 point: tier ${kept.tier}, ${kept.accuracy.toFixed(2)}%, ${(kept.bytes / 1024).toFixed(1)} KiB to load (${(kept.bytes / onnxBytes).toFixed(2)}× the .onnx; a device stops there or upgrades later).`);
}
console.log('MNIST-8 is 6k weights: its .lrm header (layer and tier tables, a SHA-256 per section) is most of those bytes. Larger models gain far more (docs/measured.md).');
console.log('Next: `npm run kiosk` serves the browser kiosk (MobileNet, progressive tiers, offline) at a local URL.');
