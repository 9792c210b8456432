/**
 * Headless Debian chromium (never a downloaded browser) with WebGPU on: on machines without a GPU it runs on
 * SwiftShader. Shared by the browser tests (test/browser/) and the in-browser soak (bench/soak-browser.ts).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** In CI a missing chromium fails the browser tests; elsewhere they are skipped. */
export const canRunChromium = existsSync(CHROMIUM) || process.env.CI === 'true';

// WebGPU is behind --enable-unsafe-webgpu on Linux; with no GPU Chromium picks its SwiftShader adapter by itself.
const LAUNCH: LaunchOptions = { executablePath: CHROMIUM, headless: true, args: ['--enable-unsafe-webgpu', '--no-sandbox'] };

export function launchChromium(): Promise<Browser> {
  return chromium.launch(LAUNCH);
}

/** A browser with the id of its first process, from which its whole process tree can be found. */
export interface TrackedBrowser {
  browser: Browser;
  pid: number;
  close(): Promise<void>;
}

/**
 * The same browser, started as a server and connected to: chromium.launch() gives no handle on the process, and the
 * soak must read the memory of every Chromium process (browser, GPU process, renderer), as a user's task manager would.
 */
export async function launchTrackedChromium(): Promise<TrackedBrowser> {
  const server = await chromium.launchServer(LAUNCH);
  const pid = server.process().pid;
  if (pid === undefined) throw new Error('chromium started without a process id');
  const browser = await chromium.connect(server.wsEndpoint());
  return {
    browser,
    pid,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
