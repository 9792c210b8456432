/**
 * The progressive model: load the first tier (the smallest download that still classifies well), show the first
 * result from it, then upgrade() to the last tier in the background and show the result again from the full model.
 */
import type { EngineId, LoadProgress, LrmSession, ModelCache } from '../../../runtime/browser-webgpu.js';
import type { KioskManifest } from '../manifest.js';
import { classify } from './classify.js';
import { explainError, explainFallback } from './explain.js';
import { imageToTensor } from './preprocess.js';
import type { KioskRuntime } from './runtime.js';
import type { Screen } from './screen.js';

/** With no photo chosen, the upgrade starts anyway after this long, so the whole model is stored for offline use. */
const UPGRADE_IDLE_MS = 5_000;

export class Kiosk {
  private session: LrmSession | undefined;
  /** The last photo, classified again once the upgrade lands. */
  private photo: Blob | undefined;
  private upgrade: Promise<void> | undefined;
  private readonly cache: ModelCache;
  private upgradeSettled!: () => void;
  /** Resolves once the background upgrade has landed or failed (or at once when there is none): the image model is done downloading. */
  readonly upgraded = new Promise<void>((resolve) => (this.upgradeSettled = resolve));

  constructor(
    private readonly screen: Screen,
    private readonly manifest: KioskManifest,
    private readonly modelUrl: URL,
    private readonly engine: EngineId | undefined,
    private readonly runtime: KioskRuntime,
  ) {
    this.cache = runtime.browserCache();
  }

  /** Loads the first tier; rejects (with the runtime's typed error) when the file is refused or cannot be fetched. */
  async start(): Promise<void> {
    this.screen.setStatus('Downloading the first tier of the model…');
    this.session = await this.runtime.load(this.modelUrl.href, {
      tiers: 1,
      engine: this.engine,
      integrity: this.manifest.integrity,
      cache: this.cache,
      onProgress: (e) => this.progress(e),
      onFallback: (e) => {
        const { key, text } = explainFallback(e);
        this.screen.notice(key, text);
      },
    });
    this.showModel('upgrading in the background');
    this.checkStorage();
    this.screen.setStatus(`Ready on the first tier. Choose a photo${'mediaDevices' in navigator ? ' or use the camera' : ''}.`, 'ok');
    setTimeout(() => this.startUpgrade(), UPGRADE_IDLE_MS);
  }

  /** The engine the model runs on now; undefined until the first tier has loaded. */
  get engineInUse(): string | undefined {
    return this.session?.engine;
  }

  async classifyPhoto(photo: Blob): Promise<void> {
    this.photo = photo;
    this.screen.showImage(URL.createObjectURL(photo));
    await this.classifySource(photo);
  }

  async classifyFrame(video: HTMLVideoElement): Promise<void> {
    this.photo = undefined;
    await this.classifySource(video);
  }

  private async classifySource(source: ImageBitmapSource): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      const result = await classify(session, await imageToTensor(source, this.manifest.input), this.manifest.labels);
      this.screen.showResult(result);
      this.screen.engineInUse(session.engine, threadsText());
      const which = result.tiers === this.manifest.tiers ? 'the full model' : `tier ${result.tiers} of ${this.manifest.tiers}`;
      this.screen.setStatus(`${result.guesses[0].label} (${which}, ${Math.round(result.ms)} ms on ${result.engine}).`, 'ok');
    } catch (e) {
      this.screen.setStatus(explainError(e), 'error');
    }
    this.startUpgrade();
  }

  /** Once: fetch the remaining tiers (one Range request), switch, and classify the last photo again. */
  private startUpgrade(): void {
    const session = this.session;
    if (!session || this.upgrade) return;
    if (session.tiers === this.manifest.tiers) return this.upgradeSettled();
    this.upgrade = session
      .upgrade({ tiers: this.manifest.tiers, onProgress: (e) => this.progress(e) })
      .then(async () => {
        this.showModel('full model');
        this.checkStorage();
        if (this.photo) await this.classifySource(this.photo);
      })
      .catch((e: unknown) => this.screen.setStatus(`${explainError(e)} The kiosk keeps working on tier ${session.tiers}.`, 'error'))
      .finally(() => this.upgradeSettled());
  }

  private progress(e: LoadProgress): void {
    if (e.phase !== 'build') this.screen.download(e.loaded, e.total);
  }

  private showModel(note: string): void {
    const session = this.session!;
    this.screen.model(session.tiers, this.manifest.tiers, session.bytesLoaded, note);
    this.screen.engineInUse(session.engine, threadsText());
  }

  /** The runtime's cache keeps sections in memory when the store is full (withQuotaFallback): offline use is then lost. */
  private checkStorage(): void {
    if ((this.cache as { degraded?: boolean }).degraded) {
      this.screen.notice('quota', "The browser's storage is full: the model is kept in memory only, so the kiosk will not work offline. Free some space and reload.");
    }
  }
}

function threadsText(): string {
  return crossOriginIsolated ? `yes (${navigator.hardwareConcurrency} cores)` : 'no: one thread (page not cross-origin isolated)';
}
