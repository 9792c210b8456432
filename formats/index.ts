/** The .lrm format: the shared model types, typed errors, reader and writer; and the .lra adapter format beside it. */
export * from './model.js';
export * from './errors.js';
export { HEADER_PREFIX_BYTES } from './framing.js';
export { FACTOR_ELEMENT_BYTES } from './codes.js';
export { sha256Hex } from './sha256.js';
export { checkIntegrity, integrityOf, integrityProblem } from './integrity.js';
export { headerLength, MIN_FORMAT_VERSION, readHeader, readLrm, verifySections } from './read.js';
export type { HeaderView, ReadOptions } from './read.js';
export { completeHeader, frameHeader, PayloadBuilder, writeLrm } from './write.js';
export type { LrmHeaderInput, WriteOptions } from './write.js';
export * from './adapter-model.js';
export { AdapterBaseMismatchError, DEFAULT_ADAPTER_FILE_NAME, LraFormatError } from './adapter-errors.js';
export type { AdapterFactorEntry, AdapterHeader, AdapterLayerEntry } from './adapter-header.js';
export { adapterBaseOf, checkAdapterBase } from './adapter-base.js';
export { MIN_ADAPTER_FORMAT_VERSION, readAdapter, readAdapterHeader } from './adapter-read.js';
export type { AdapterHeaderView } from './adapter-read.js';
export { writeAdapter } from './adapter-write.js';
export type { WriteAdapterOptions } from './adapter-write.js';
