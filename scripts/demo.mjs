// The main job on the bundled default model: compile MNIST-8 (ONNX Model Zoo, MIT) into a nested .lrm,
// show its tiers, and evaluate every tier against the original on 500 bundled MNIST test digits.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const out = 'examples/out';
mkdirSync(out, { recursive: true });
const lowrank = (...args) => {
  console.log(`\n$ lowrank ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/lowrank.js', ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

// MNIST-8 is tiny (6k weights): --min-params 1024 lets its larger conv be factored, and rank steps of 1
// (instead of 8) give it distinct tiers.
lowrank('compile', 'examples/mnist/mnist-8.onnx', '-o', `${out}/mnist-8.lrm`, '--min-params', '1024', '--rank-multiple', '1', '--dtype', 'fp16');
lowrank('inspect', `${out}/mnist-8.lrm`);
lowrank('eval', `${out}/mnist-8.lrm`, '--data', 'mnist:examples/mnist', '--reference', 'examples/mnist/mnist-8.onnx', '--all-tiers');
