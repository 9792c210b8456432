import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr for long steps; silent when stderr is not a terminal (CI logs, pipes),
 * so --json output on stdout stays clean.
 */
export class ProgressBar {
  private bar: cliProgress.SingleBar | undefined;
  private phase = '';

  update(phase: string, done: number, total: number, detail = ''): void {
    if (!process.stderr.isTTY) return;
    if (phase !== this.phase || !this.bar) {
      this.stop();
      this.phase = phase;
      this.bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: `${phase.padEnd(10)} [{bar}] {value}/{total} {detail} (about {eta_formatted} left)`, etaBuffer: 20, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, done, { detail });
    }
    this.bar.setTotal(total);
    this.bar.update(done, { detail });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
