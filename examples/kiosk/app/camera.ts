/** The camera, where the browser offers one: a live preview and a button that classifies the current frame. */

export function setUpCamera(onFrame: (video: HTMLVideoElement) => void, onError: (message: string) => void): void {
  const start = document.getElementById('camera-start') as HTMLButtonElement;
  const snap = document.getElementById('camera-snap') as HTMLButtonElement;
  const video = document.getElementById('camera') as HTMLVideoElement;
  // Absent on insecure origins and in some kiosk browsers.
  if (!('mediaDevices' in navigator) || !navigator.mediaDevices.getUserMedia) return;
  start.hidden = false;
  start.addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      await video.play();
      video.hidden = false;
      snap.hidden = false;
      start.hidden = true;
    } catch (e) {
      onError(`The camera could not be opened (${(e as Error).message}); choose a photo instead.`);
    }
  });
  snap.addEventListener('click', () => onFrame(video));
}
