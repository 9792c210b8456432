/**
 * Integrity pinning in the Subresource Integrity form browsers use ("sha256-" + base64 of a SHA-256). What is
 * pinned is the header's own SHA-256, which the file stores after the header: the header holds the SHA-256 of
 * every payload section, so one pinned value fixes every byte a device will use, and it is checked from the
 * first read, before any tier is fetched or any engine sees the graph. A file whose header was changed and
 * re-hashed passes every format check but not this one.
 */
import { LrmIntegrityError } from './errors.js';

const PREFIX = 'sha256-';
const SHA256_BYTES = 32;

/** The integrity value of a file whose stored header hash is `headerHash` (32 bytes). */
export function integrityOf(headerHash: Uint8Array): string {
  if (headerHash.length !== SHA256_BYTES) throw new RangeError(`a header hash is ${SHA256_BYTES} bytes, got ${headerHash.length}`);
  let binary = '';
  for (const b of headerHash) binary += String.fromCharCode(b);
  return PREFIX + btoa(binary);
}

/**
 * The pinned value checked for form: "sha256-" and 44 base64 characters. Returns undefined when it is well formed,
 * else what is wrong (the caller raises its own option error).
 */
export function integrityProblem(pinned: string): string | undefined {
  if (!pinned.startsWith(PREFIX)) return `integrity must be "sha256-" followed by base64 (as \`lowrank inspect\` prints it), got "${pinned.slice(0, 24)}"`;
  const body = pinned.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]{43}=$/.test(body)) return `integrity "${pinned.slice(0, 24)}…" is not a SHA-256 in base64 (44 characters ending in "=")`;
  return undefined;
}

/** Refuses a file whose header hash is not the pinned one. */
export function checkIntegrity(fileName: string, headerHash: Uint8Array, pinned: string): void {
  const actual = integrityOf(headerHash);
  if (actual !== pinned) throw new LrmIntegrityError(fileName, pinned, actual);
}
