/**
 * Bounded admission: at most `concurrency` requests decode and run at once, at most `queue` more wait for a turn,
 * and anything past that is turned away at once (503) rather than piling up latency and memory. A request is
 * admitted when its headers arrive, before its body is read, so the limit also bounds the bodies held in memory.
 */
export interface Ticket {
  /** Resolves when this request may decode and run. */
  turn(): Promise<void>;
  /** The request is over (answered or abandoned): frees its place and, if it had one, its turn. */
  leave(): void;
}

export class Admission {
  private admitted = 0;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {}

  /** Requests admitted and not yet left: running, waiting for a turn, or still sending their body. */
  get inFlight(): number {
    return this.admitted;
  }

  /** Requests waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A place for one request, or undefined when concurrency + queue are taken. */
  enter(): Ticket | undefined {
    if (this.admitted >= this.concurrency + this.queue) return undefined;
    this.admitted++;
    let state: 'admitted' | 'waiting' | 'running' | 'left' = 'admitted';
    let wake: (() => void) | undefined;
    return {
      turn: () => {
        if (state !== 'admitted') throw new Error(`turn() called on a ticket that is ${state}`);
        if (this.running < this.concurrency) {
          this.running++;
          state = 'running';
          return Promise.resolve();
        }
        state = 'waiting';
        return new Promise<void>((resolve) => {
          // The slot is handed over by leave(): `running` already counts this request when it wakes.
          wake = () => {
            state = 'running';
            resolve();
          };
          this.waiting.push(wake);
        });
      },
      leave: () => {
        if (state === 'left') return;
        if (state === 'running') this.handOver();
        if (state === 'waiting') this.waiting.splice(this.waiting.indexOf(wake!), 1);
        state = 'left';
        this.admitted--;
      },
    };
  }

  private handOver(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
