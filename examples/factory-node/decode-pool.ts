/**
 * Worker threads that turn JPEG bodies into feeds (decode-worker.ts), one per request slot (--concurrency), so each
 * running request decodes in its own thread while the event loop stays free. A worker that dies (a bug, out of
 * memory) fails its requests with 500 and is replaced.
 */
import { Worker } from 'node:worker_threads';
import jpegJs from 'jpeg-js';
import type { Preprocess } from '../../compiler/data/image.js';
import type { ModelInput } from '../../compiler/data/tensor-file.js';
import type { Feeds } from '../../runtime/node.js';
import type { DecodeReply, DecodeRequest } from './decode-protocol.js';
import { HttpError } from './http-error.js';

interface Pending {
  resolve: (feeds: Feeds) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    size: number,
    private readonly setup: { inputs: ModelInput[]; preprocess: Preprocess },
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.start());
  }

  /** The feeds of one JPEG; HttpError 400/413 for a body that is not a decodable JPEG within the limits. */
  decode(jpeg: Uint8Array): Promise<Feeds> {
    // The least busy worker: with one slot per running request, usually an idle one.
    return this.send(this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a)), jpeg);
  }

  /**
   * Every worker decodes a small grey image once: a worker's first decode loads its modules and runs cold
   * JavaScript (a few hundred ms), which should happen at startup, not in the first requests.
   */
  async warmUp(): Promise<void> {
    const width = 320;
    const height = 240;
    const jpeg = new Uint8Array(jpegJs.encode({ data: Buffer.alloc(width * height * 4, 128), width, height }, 90).data);
    await Promise.all(this.slots.map((slot) => this.send(slot, jpeg)));
  }

  private send(slot: Slot, jpeg: Uint8Array): Promise<Feeds> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, jpeg } satisfies DecodeRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private start(): Slot {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: this.setup });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', ({ id, feeds, problem }: DecodeReply) => {
      const pending = slot.pending.get(id);
      if (!pending) return;
      slot.pending.delete(id);
      if (feeds) pending.resolve(feeds);
      else pending.reject(new HttpError(problem!.status, problem!.message));
    });
    // Crashes and exits are not the requests' fault: 500, and a fresh worker takes the slot.
    const fail = (why: string): void => {
      for (const p of slot.pending.values()) p.reject(new Error(`the decode worker ${why}`));
      slot.pending.clear();
      const index = this.slots.indexOf(slot);
      if (!this.closed && index >= 0) this.slots.splice(index, 1, this.start());
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (slot.pending.size > 0 || this.slots.includes(slot)) fail(`exited (${code})`);
    });
    return slot;
  }
}
