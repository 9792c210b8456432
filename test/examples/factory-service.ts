/** Starting examples/factory-node (built into dist/) as a child process, and talking to it, for its tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

export const SERVER = join(import.meta.dirname, '../../dist/examples/factory-node/server.js');

export interface Service {
  child: ChildProcess;
  port: number;
  /** The startup line. */
  startup: string;
  /** Every stdout line so far. */
  lines: string[];
  stderr: () => string;
  /** Exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
}

/** Spawns the server on 127.0.0.1, port 0, and resolves once it prints its startup line. */
export function startService(args: string[]): Promise<Service> {
  const child = spawn(process.execPath, [SERVER, '--host', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (m) resolve({ child, port: Number(m[1]), startup: line, lines, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before listening:\n${stderr}`)));
  });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

interface Sent {
  method?: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
}

/** One request on its own connection (no agent: 64 of them are 64 connections at once). */
export function request(port: number, path: string, sent: Sent = {}): Promise<Reply> {
  return upload(port, path, sent).finish();
}

export function classify(port: number, body: Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
  return request(port, '/classify', { method: 'POST', body, headers: { 'Content-Type': 'image/jpeg', ...headers } });
}

/**
 * A POST /classify whose body is sent in two parts: the first now (the server admits the request and waits for the
 * rest), the rest when finish() is called. Holds a place in the server's queue for as long as the test wants.
 */
export function heldUpload(port: number, body: Uint8Array): { finish(): Promise<Reply> } {
  return upload(port, '/classify', { method: 'POST', body, headers: { 'Content-Type': 'image/jpeg' } }, body.length >> 1);
}

/** Sends the headers and the body's first `sendNow` bytes; finish() sends the rest and waits for the reply. */
function upload(port: number, path: string, { method = 'GET', body, headers = {} }: Sent, sendNow = 0): { finish(): Promise<Reply> } {
  const length = body ? { 'Content-Length': String(body.length) } : {};
  const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false, headers: { ...headers, ...length } });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
  // Settled before finish() when the server goes away first: seen by whoever calls finish(), not unhandled.
  reply.catch(() => undefined);
  if (body && sendNow > 0) req.write(body.subarray(0, sendNow));
  return {
    finish: () => {
      req.end(body?.subarray(sendNow));
      return reply;
    },
  };
}

/** Polls until `check` holds (every 20 ms, up to `ms`). */
export async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
