/**
 * "Search by meaning": a text box over a short list of phrases (model.json's `search` section). The phrases are
 * embedded once, on the device, with USE-lite compiled to int4 (a sentence encoder: text → 512 numbers); a query is
 * embedded the same way and the phrases are ranked by cosine similarity, top 3 shown.
 *
 * Loaded lazily, so the image classifier's time to first result does not change: nothing is fetched until the
 * visitor focuses the box or the image model has finished its upgrade (main.ts). The tokenizer and the similarity
 * code (runtime/text/, no engine) are in app.js; the model runs on the same runtime bundle and engine as the image
 * model. Every file is pinned: the .lrm by load()'s integrity check, the vocabulary and phrases by their SHA-256.
 */
import type { EngineId, LrmSession } from '../../../runtime/browser-webgpu.js';
import { embedSentences, rankBySimilarity, SentencePieceTokenizer } from '../../../runtime/text/index.js';
import type { SearchManifest } from '../manifest.js';
import { explainError } from './explain.js';
import type { KioskRuntime } from './runtime.js';

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** What a search showed, for tests and monitoring ('kiosk-search' event). */
export interface SearchResult {
  query: string;
  top: Array<{ index: number; phrase: string; score: number }>;
  ms: number;
  tiers: number;
  engine: string;
}

interface Ready {
  session: LrmSession;
  tokenizer: SentencePieceTokenizer;
  phrases: string[];
  embeddings: Float32Array[];
}

const DEBOUNCE_MS = 250;
const TOP = 3;

export class PhraseSearch {
  private ready: Promise<Ready> | undefined;
  private readonly panel = byId<HTMLElement>('search-panel');
  private readonly form = byId<HTMLFormElement>('search-form');
  private readonly box = byId<HTMLInputElement>('search');
  private readonly status = byId<HTMLParagraphElement>('search-status');
  private readonly list = byId<HTMLOListElement>('search-results');
  /** Only the latest query's result is shown. */
  private latest = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly manifest: SearchManifest,
    private readonly base: URL,
    private readonly runtime: KioskRuntime,
    private readonly engine: EngineId | undefined,
  ) {
    this.panel.hidden = false;
    this.box.addEventListener('focus', () => void this.prepare().catch(() => {}), { once: true });
    this.box.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.search(this.box.value), DEBOUNCE_MS);
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearTimeout(this.timer);
      void this.search(this.box.value);
    });
  }

  /** Downloads the model, vocabulary and phrases, and embeds the phrases; once. */
  prepare(): Promise<Ready> {
    this.ready ??= this.load();
    return this.ready;
  }

  private async load(): Promise<Ready> {
    const m = this.manifest;
    this.setStatus(`Loading the search model (${(m.bytes / 1024 / 1024).toFixed(1)} MB)…`);
    try {
      const [session, vocab, phrases] = await Promise.all([
        this.runtime.load(new URL(m.model, this.base).href, {
          tiers: m.tiers,
          engine: this.engine,
          integrity: m.integrity,
          cache: this.runtime.browserCache(),
        }),
        pinned(new URL(m.vocab, this.base), m.vocabIntegrity),
        pinned(new URL(m.phrases, this.base), m.phrasesIntegrity),
      ]);
      if (!Array.isArray(phrases) || !phrases.every((p) => typeof p === 'string' && p.trim() !== '')) throw new Error(`${m.phrases} is not a list of phrases`);
      const tokenizer = SentencePieceTokenizer.fromJson(vocab, m.vocab);
      const start = performance.now();
      const embeddings = await embedSentences(session, tokenizer, phrases as string[]);
      const ms = Math.round(performance.now() - start);
      this.setStatus(`Ready: ${phrases.length} phrases embedded on this device in ${ms} ms (tier ${session.tiers} of ${m.modelTiers}, ${session.engine}). Type a question.`, 'ok');
      this.panel.dataset.ready = 'true';
      return { session, tokenizer, phrases: phrases as string[], embeddings };
    } catch (e) {
      this.ready = undefined; // the next focus or query tries again (e.g. back online)
      this.setStatus(`Search is not available: ${explainError(e)}`, 'error');
      throw e;
    }
  }

  async search(text: string): Promise<void> {
    const query = text.trim();
    const id = ++this.latest;
    if (query === '') {
      this.list.replaceChildren();
      return;
    }
    let ready: Ready;
    try {
      ready = await this.prepare();
    } catch {
      return; // prepare() said why
    }
    const start = performance.now();
    const [q] = await embedSentences(ready.session, ready.tokenizer, [query]);
    const ranked = rankBySimilarity(q, ready.embeddings).slice(0, TOP);
    if (id !== this.latest) return;
    const result: SearchResult = {
      query,
      top: ranked.map(({ index, score }) => ({ index, phrase: ready.phrases[index], score })),
      ms: performance.now() - start,
      tiers: ready.session.tiers,
      engine: ready.session.engine,
    };
    this.list.replaceChildren(
      ...result.top.map((r) => {
        const item = document.createElement('li');
        item.dataset.index = String(r.index);
        item.textContent = `${r.phrase} (${r.score.toFixed(2)})`;
        return item;
      }),
    );
    this.list.dataset.query = query;
    this.setStatus(`Top ${TOP} of ${ready.phrases.length} for "${query}" (${Math.round(result.ms)} ms on ${result.engine}).`, 'ok');
    document.dispatchEvent(new CustomEvent('kiosk-search', { detail: result }));
  }

  private setStatus(text: string, kind: 'info' | 'ok' | 'error' = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }
}

/**
 * A JSON file checked against its pin ("sha256-<base64>") before it is parsed. Checked here rather than with
 * fetch's `integrity` option so a mismatch says which file and why (fetch only says "Failed to fetch").
 */
async function pinned(url: URL, integrity: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw Object.assign(new Error(`cannot read ${url.pathname}: HTTP ${response.status}`), { code: 'fetch' });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const actual = `sha256-${btoa(String.fromCharCode(...digest))}`;
  if (actual !== integrity) {
    throw Object.assign(new Error(`${url.pathname} is ${actual}, pinned ${integrity}`), { name: 'IntegrityError', code: 'LRM_INTEGRITY' });
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}
