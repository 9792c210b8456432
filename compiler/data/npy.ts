/**
 * NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
 *
 * Reads the little-endian, C-order arrays that `np.save` writes for the dtypes that have a host tensor type:
 * <f4 <f8 <i4 <i8 |u1 |b1. Fortran-order and big-endian files are well-formed but would need a transpose or
 * a byte swap that we do not want to guess at, so they are refused with a message that says how to re-save.
 * Format reference: numpy/lib/format.py (NEP 1).
 */
import { writeFile } from 'node:fs/promises';
import { DataFormatError, UnsupportedDataError } from './errors.js';
import { readFileOrThrow } from './files.js';
import { bytesPerElement, checkTensor, elementCount, type HostDataType, type HostTensor } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Header descr for each host type. Single-byte types have no byte order, which numpy writes as '|'. */
const DESCR: Record<HostDataType, string> = {
  float32: '<f4',
  float64: '<f8',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  bool: '|b1',
};

/** Parses the header's Python dict literal. Only the literal forms np.save writes are accepted. */
type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function parsePyLiteral(text: string, source: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new DataFormatError(`${source}: malformed .npy header (${what} at character ${i}): ${text.trim()}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [k: string]: PyValue } = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        const key = value();
        if (typeof key !== 'string') fail('non-string key');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key as string] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const arr: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return arr;
        }
        arr.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i));
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', '')); // Python 2 wrote shapes as (3L, 4L)
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function hostTypeOfDescr(descr: string, source: string): HostDataType {
  for (const [t, d] of Object.entries(DESCR) as [HostDataType, string][]) {
    // A one-byte type has no byte order; numpy writes '|' but '<', '>' and '=' mean the same thing.
    if (d === descr || (d[0] === '|' && descr.length === 3 && '<>=|'.includes(descr[0]!) && descr.slice(1) === d.slice(1))) {
      return t;
    }
  }
  const hint = 'supported: <f4 <f8 <i4 <i8 |u1 |b1';
  if (descr[0] === '>') {
    throw new UnsupportedDataError(`${source}: big-endian dtype '${descr}' is not supported; re-save with arr.astype(arr.dtype.newbyteorder('<'))`);
  }
  throw new UnsupportedDataError(`${source}: dtype '${descr}' is not supported (${hint}); re-save with arr.astype(np.float32) or similar`);
}

/** Decodes the bytes of a .npy file. `source` names the file in error messages. */
export function parseNpy(bytes: Uint8Array, source = '.npy data'): HostTensor {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new DataFormatError(`${source}: not a .npy file (missing \\x93NUMPY magic)`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataFormatError(`${source}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new UnsupportedDataError(`${source}: .npy format version ${major}.${minor} is not supported (1.0, 2.0, 3.0 are)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new DataFormatError(`${source}: truncated .npy header`);
  // Versions 1 and 2 store the header as latin1, version 3 as utf8 (for unicode field names).
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const header = parsePyLiteral(headerText, source);
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new DataFormatError(`${source}: .npy header is not a dict: ${headerText.trim()}`);
  }
  const { descr, fortran_order: fortran, shape } = header;
  if (typeof descr !== 'string') {
    throw new UnsupportedDataError(`${source}: structured dtypes are not supported (descr ${JSON.stringify(descr)})`);
  }
  if (typeof fortran !== 'boolean') throw new DataFormatError(`${source}: .npy header has no boolean 'fortran_order'`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new DataFormatError(`${source}: .npy header has an invalid 'shape': ${headerText.trim()}`);
  }
  const dataType = hostTypeOfDescr(descr, source);
  const dims = shape as number[];
  // With at most one dimension above 1, Fortran and C order are the same bytes, so only refuse the rest.
  if (fortran && dims.filter((d) => d > 1).length > 1) {
    throw new UnsupportedDataError(
      `${source}: Fortran-order (column-major) arrays are not supported; re-save with np.save(path, np.ascontiguousarray(arr))`,
    );
  }
  const count = elementCount(dims);
  const nbytes = count * bytesPerElement(dataType);
  const available = bytes.length - dataStart;
  if (available !== nbytes) {
    throw new DataFormatError(
      `${source}: .npy data is ${available} bytes but shape [${dims.join(', ')}] of ${descr} needs ${nbytes}` +
        (available < nbytes ? ' (file truncated?)' : ''),
    );
  }
  // Copy into a fresh buffer: the data offset need not be aligned for the element size (and for small files
  // Node hands out slices of a shared pool). All supported hosts are little-endian, like the file.
  const raw = new Uint8Array(bytes.subarray(dataStart, dataStart + nbytes)).buffer; // a copy, even for a Buffer
  switch (dataType) {
    case 'float32':
      return { dataType, dims, data: new Float32Array(raw) };
    case 'float64':
      return { dataType, dims, data: new Float64Array(raw) };
    case 'int32':
      return { dataType, dims, data: new Int32Array(raw) };
    case 'int64':
      return { dataType, dims, data: new BigInt64Array(raw) };
    case 'uint8':
      return { dataType, dims, data: new Uint8Array(raw) };
    case 'bool': {
      const b = new Uint8Array(raw);
      for (let k = 0; k < b.length; k++) b[k] = b[k] ? 1 : 0; // numpy treats any non-zero byte as True
      return { dataType, dims, data: b };
    }
  }
}

/**
 * Encodes a tensor as .npy, the way np.save does: version 1.0 unless the header needs more than 65535 bytes,
 * header padded with spaces and a final newline so the data starts at a multiple of 64 bytes.
 */
export function serializeNpy(t: HostTensor): Uint8Array {
  checkTensor(t);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  const dict = `{'descr': '${DESCR[t.dataType]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let major = 1;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - prefix;
  const header = dict + ' '.repeat(headerLen - dict.length - 1) + '\n';
  const body = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(total + body.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let k = 0; k < header.length; k++) out[prefix + k] = header.charCodeAt(k); // ASCII only
  out.set(body, total);
  if (t.dataType === 'bool') for (let k = total; k < out.length; k++) out[k] = out[k] ? 1 : 0;
  return out;
}

export async function readNpy(path: string): Promise<HostTensor> {
  return parseNpy(await readFileOrThrow(path, '.npy file'), path);
}

export async function writeNpy(path: string, t: HostTensor): Promise<void> {
  await writeFile(path, serializeNpy(t));
}
