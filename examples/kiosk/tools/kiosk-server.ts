/** Serves a built kiosk on 127.0.0.1 with Range requests and the cross-origin isolation headers (for WASM threads). */
import { startStaticServer, type StaticServer } from '../../../tools/static-server.js';

export function startKioskServer(site: string, options: { port?: number; isolated?: boolean } = {}): Promise<StaticServer> {
  return startStaticServer({ mounts: [{ prefix: '/', dir: site }], isolated: options.isolated ?? true, port: options.port });
}
