import type { Command } from 'commander';
import { deviceClassId } from '../../devices/device-class.js';
import { detectNodeDevice } from '../../devices/detect-node.js';
import { deviceSummary } from '../../devices/summary.js';

export function registerDevices(program: Command): void {
  program
    .command('devices')
    .description('detect this machine: CPU, memory, onnxruntime-node providers, WebGPU (Dawn) adapter, and its device-class id')
    .option('--no-gpu', 'skip the WebGPU adapter probe (it can take a second or two)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { gpu: boolean; json?: boolean }) => {
      const device = await detectNodeDevice({ probeGpu: opts.gpu });
      if (opts.json) {
        console.log(JSON.stringify({ deviceClass: deviceClassId(device), ...device }, null, 2));
        return;
      }
      console.log(deviceSummary(device));
    });
}
