/**
 * The HTTP routes: POST /classify and GET /healthz, one log line per request, errors as `{ "error": "…" }` with
 * their status. Requests that arrive once draining has begun get 503 (Connection: close): the load balancer or
 * client retries elsewhere while the ones already taken finish.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admission } from './admission.js';
import { readBody } from './body.js';
import { HttpError } from './http-error.js';
import { tierIndex, type LoadedModel } from './model.js';

export interface AppOptions {
  model: LoadedModel;
  /** The model as given (path or URL), for /healthz. */
  modelName: string;
  admission: Admission;
  maxBodyBytes: number;
  log: (line: string) => void;
}

/** What the log line says about a request beyond its status. */
interface RequestNote {
  adapter?: string;
}

export class App {
  private draining = false;
  private open = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly options: AppOptions) {}

  /** Requests taken and not answered yet (all routes). */
  get openRequests(): number {
    return this.open;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const note: RequestNote = {};
    this.open++;
    res.on('close', () => {
      const ms = (performance.now() - started).toFixed(1);
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      this.options.log(`${new Date().toISOString()} ${req.method} ${req.url} ${status} ${ms}ms tier=${tierIndex(this.options.model.session)} adapter=${note.adapter ?? '-'}`);
      if (--this.open === 0) for (const wake of this.idle.splice(0)) wake();
    });
    this.route(req, res, note, started).catch((e: unknown) => this.fail(req, res, e));
  };

  /** Stop taking requests; resolves once every request already taken has been answered. */
  drain(): Promise<void> {
    this.draining = true;
    return this.open === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  private async route(req: IncomingMessage, res: ServerResponse, note: RequestNote, started: number): Promise<void> {
    if (this.draining) throw new HttpError(503, 'the service is shutting down', { 'Retry-After': '1', Connection: 'close' });
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const routes: Record<string, [string, () => Promise<void> | void]> = {
      '/classify': ['POST', () => this.classify(req, res, note, started)],
      '/healthz': ['GET', () => this.health(res)],
    };
    const route = routes[path];
    if (!route) throw new HttpError(404, `no route ${path}; try POST /classify or GET /healthz`);
    if (req.method !== route[0]) throw new HttpError(405, `${path} takes ${route[0]}, not ${req.method}`, { Allow: route[0] });
    await route[1]();
  }

  private async classify(req: IncomingMessage, res: ServerResponse, note: RequestNote, started: number): Promise<void> {
    const { session, classifier, decoder } = this.options.model;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'image/jpeg') throw new HttpError(415, `Content-Type must be image/jpeg, got ${type || 'none'}`);
    const adapter = header(req, 'x-adapter');
    note.adapter = adapter;
    if (adapter !== undefined && !session.adapters.includes(adapter)) {
      throw new HttpError(400, `unknown adapter "${adapter}"; loaded: ${session.adapters.join(', ') || 'none'}`);
    }
    // One session runs one tier set: a per-request tier would need a session (and its memory) per tier.
    const tier = header(req, 'x-tier');
    if (tier !== undefined && tier !== String(tierIndex(session))) {
      throw new HttpError(400, `X-Tier ${tier}: this service runs tier ${tierIndex(session)} only (start one with --tier for another)`);
    }
    const ticket = this.options.admission.enter();
    if (!ticket) {
      const { concurrency, queue } = this.options.admission;
      throw new HttpError(503, `over capacity: ${concurrency} running and ${queue} queued; retry later`, { 'Retry-After': '1' });
    }
    try {
      const body = await readBody(req, this.options.maxBodyBytes);
      await ticket.turn();
      // Nobody is waiting for the answer any more: skip the work.
      if (res.destroyed) return;
      const top = await classifier.classify(await decoder.decode(body), adapter);
      const ms = Math.round((performance.now() - started) * 100) / 100;
      send(res, 200, { top, tier: tierIndex(session), adapter: adapter ?? null, ms });
    } finally {
      ticket.leave();
    }
  }

  private health(res: ServerResponse): void {
    const { session, adapters } = this.options.model;
    const { admission } = this.options;
    send(res, 200, {
      status: 'ok',
      model: this.options.modelName,
      engine: session.engine,
      tier: tierIndex(session),
      preset: session.choice.preset ?? null,
      inFlight: admission.inFlight,
      queued: admission.queued,
      adapters,
    });
  }

  private fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    // Half an answer cannot be taken back, and a client that went away cannot be answered.
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const known = e instanceof HttpError;
    if (!known) console.error(e);
    const message = ((e as Error)?.message ?? String(e)).split('\n')[0]!;
    // A body not read yet is not worth reading only to throw away: the connection closes instead.
    const close: Record<string, string> = req.complete ? {} : { Connection: 'close' };
    send(res, known ? e.status : 500, { error: message }, { ...close, ...(known ? e.headers : {}) });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
