/**
 * Everything the kiosk shows, in one place: the status line (what is happening now, or the error), notices
 * (lasting conditions: no WebGPU, no threads, storage full, device lost), the download bar, the model's tier and
 * engine, and the results. Data attributes mirror the text for tests and for kiosk monitoring.
 */
import type { Classification } from './classify.js';

const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the kiosk page has no #${id}`);
  return element as T;
};

export type StatusKind = 'info' | 'ok' | 'error';

export class Screen {
  private readonly status = byId<HTMLParagraphElement>('status');
  private readonly notices = byId<HTMLUListElement>('notices');
  private readonly bar = byId<HTMLProgressElement>('download');
  private readonly barText = byId<HTMLSpanElement>('download-text');
  private readonly tier = byId<HTMLElement>('tier');
  private readonly engine = byId<HTMLElement>('engine');
  private readonly threads = byId<HTMLElement>('threads');
  private readonly results = byId<HTMLOListElement>('results');
  private readonly preview = byId<HTMLImageElement>('preview');

  setStatus(text: string, kind: StatusKind = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** A lasting notice; the same key replaces its earlier text. */
  notice(key: string, text: string): void {
    let item = this.notices.querySelector<HTMLLIElement>(`li[data-key="${key}"]`);
    if (!item) {
      item = document.createElement('li');
      item.dataset.key = key;
      this.notices.append(item);
    }
    item.textContent = text;
  }

  download(loaded: number, total: number): void {
    this.bar.max = Math.max(total, 1);
    this.bar.value = loaded;
    this.barText.textContent = `${mb(loaded)} of ${mb(total)}`;
  }

  /** The tiers the session runs now, the bytes they took, and what happens next (e.g. "upgrading in the background"). */
  model(tiers: number, of: number, bytes: number, note: string): void {
    this.tier.textContent = `tier ${tiers} of ${of} (${mb(bytes)}) — ${note}`;
    this.tier.dataset.tiers = String(tiers);
  }

  engineInUse(engine: string, threads: string): void {
    this.engine.textContent = engine;
    this.threads.textContent = threads;
  }

  showImage(url: string): void {
    this.preview.src = url;
    this.preview.hidden = false;
  }

  showResult(result: Classification): void {
    this.results.replaceChildren(
      ...result.guesses.map((g) => {
        const item = document.createElement('li');
        item.dataset.class = String(g.index);
        item.textContent = `${g.label}: ${(g.probability * 100).toFixed(1)}%`;
        return item;
      }),
    );
    this.results.dataset.tiers = String(result.tiers);
    this.results.dataset.engine = result.engine;
    this.results.dataset.count = String(Number(this.results.dataset.count ?? 0) + 1);
    // For kiosk monitoring and tests: every result, in order (the DOM shows only the latest).
    document.dispatchEvent(new CustomEvent('kiosk-result', { detail: result }));
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
