/**
 * A local HTTP server for loading tests: it logs every response (path, Range header, status, body bytes
 * actually written), so tests can check exactly what a load transferred.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  path: string;
  range: string | undefined;
  status: number;
  /** Body bytes written (for a dropped connection: the part sent before the drop). */
  bytes: number;
}

export type Route = (req: IncomingMessage, res: ServerResponse, server: CountingServer) => void;

export class CountingServer {
  readonly served: Served[] = [];
  private constructor(
    private readonly server: Server,
    readonly base: string,
  ) {}

  static async start(routes: Record<string, Route>): Promise<CountingServer> {
    let self: CountingServer | undefined;
    const server = createServer((req, res) => {
      const route = routes[req.url ?? ''];
      if (route) return route(req, res, self!);
      self!.send(req, res, 404, new TextEncoder().encode('not found'), { 'Content-Type': 'text/plain' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new CountingServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Bytes of response bodies sent since `from` (an index into `served`). */
  sentSince(from = 0): number {
    return this.served.slice(from).reduce((s, r) => s + r.bytes, 0);
  }

  send(req: IncomingMessage, res: ServerResponse, status: number, body: Uint8Array, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream', ...headers });
    res.end(body);
    this.served.push({ path: req.url ?? '', range: req.headers.range, status, bytes: body.length });
  }

  /** 206 for a single `bytes=a-b` range (clamped to the body, as servers do), 416 past the end, 200 without Range. */
  sendWithRange(req: IncomingMessage, res: ServerResponse, body: Uint8Array, shape: (part: Uint8Array, start: number) => Uint8Array = (p) => p): void {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) return this.send(req, res, 200, shape(body, 0), { 'Accept-Ranges': 'bytes' });
    const start = Number(m[1]);
    const end = Math.min(m[2] === '' ? body.length - 1 : Number(m[2]), body.length - 1);
    if (start >= body.length || end < start) return this.send(req, res, 416, new Uint8Array(0), { 'Content-Range': `bytes */${body.length}` });
    this.send(req, res, 206, shape(body.subarray(start, end + 1), start), { 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/${body.length}` });
  }

  /** Announces the whole range, sends the first half, then drops the connection (a server restart, a network cut). */
  sendHalfThenDrop(req: IncomingMessage, res: ServerResponse, body: Uint8Array): void {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!;
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), body.length - 1);
    const part = body.subarray(start, end + 1);
    const half = part.subarray(0, Math.floor(part.length / 2));
    res.writeHead(206, { 'Content-Length': String(part.length), 'Content-Range': `bytes ${start}-${end}/${body.length}` });
    res.write(half, () => res.destroy());
    this.served.push({ path: req.url ?? '', range: req.headers.range, status: 206, bytes: half.length });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
