/** Headless Debian chromium (never a downloaded browser) with WebGPU on: on machines without a GPU it runs on SwiftShader. */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** In CI a missing chromium fails the browser tests; elsewhere they are skipped. */
export const canRunChromium = existsSync(CHROMIUM) || process.env.CI === 'true';

export function launchChromium(): Promise<Browser> {
  // WebGPU is behind --enable-unsafe-webgpu on Linux; with no GPU Chromium picks its SwiftShader adapter by itself.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--enable-unsafe-webgpu', '--no-sandbox'] });
}
