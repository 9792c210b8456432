/**
 * A small static HTTP server on 127.0.0.1 for pages that run the browser bundles: the browser tests' page and the
 * kiosk example. Files come through sirv, which answers Range requests (206) as a real static host or CDN does, so
 * the runtime's URL loading is exercised as in production. Responses can carry the cross-origin isolation headers
 * that give a page SharedArrayBuffer, and so WebAssembly threads.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

/** The headers that make a page cross-origin isolated (and give WebAssembly threads). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** A folder served under a URL prefix ("/models/"). */
export interface Mount {
  prefix: string;
  dir: string;
}

/** A path answered by code instead of a file (a generated page). */
export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface StaticServerOptions {
  mounts: readonly Mount[];
  routes?: Readonly<Record<string, Route>>;
  /** Which responses get ISOLATION_HEADERS: all (true), none (false, the default), or those whose path it accepts. */
  isolated?: boolean | ((path: string) => boolean);
  /** Default 0: any free port. */
  port?: number;
}

export interface StaticServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  // ETags with no-cache: browsers revalidate each file (a cheap 304), so a rebuilt file is never served stale.
  const mounts = options.mounts.map(({ prefix, dir }) => ({ prefix, serve: sirv(dir, { dev: true, etag: true }) }));
  const isolated = options.isolated ?? false;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (isolated === true || (typeof isolated === 'function' && isolated(path))) {
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
    }
    const route = options.routes?.[path];
    if (route) return route(req, res);
    const notFound = () => {
      res.writeHead(404).end(`not found: ${path}`);
    };
    // Longest prefix first, so "/" can be a catch-all beside "/models/".
    const mount = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length).find((m) => path.startsWith(m.prefix));
    if (!mount) return notFound();
    req.url = req.url!.slice(mount.prefix.length - 1);
    mount.serve(req, res, notFound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
