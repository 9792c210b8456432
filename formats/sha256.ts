/**
 * SHA-256 through Web Crypto, so the same code runs in Node ≥ 20 and in browsers (no node: imports here).
 */

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    // Browsers hide crypto.subtle outside secure contexts; say so rather than fail with "undefined".
    throw new Error('SHA-256 checks need crypto.subtle, which browsers only provide on https:// or localhost pages (serve the app over https)');
  }
  return s;
}

/** Raw 32-byte digest. Hashes exactly the view's bytes, not its whole underlying buffer. */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  // Web Crypto refuses views of SharedArrayBuffer: copy those, pass the rest as they are.
  const data = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  return new Uint8Array(await subtle().digest('SHA-256', data));
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}

/** Lower-case hex, the form ModelHeader uses for digests. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Inverse of toHex; throws a RangeError for anything that is not an even-length hex string. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError(`not a hex string: "${hex}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
