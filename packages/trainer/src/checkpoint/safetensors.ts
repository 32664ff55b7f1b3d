/**
 * safetensors, written and read by us (the format: an 8-byte little-endian header length,
 * a JSON header mapping names to { dtype, shape, data_offsets }, then raw little-endian
 * data; https://github.com/huggingface/safetensors). Files are written atomically (temp file
 * + rename), and a truncated or corrupted file is rejected with an error naming it, never
 * half-loaded. F32, F16 and BF16 tensors are read into float32 (Hugging Face checkpoints
 * ship bf16 and f16); writing is F32 by default, BF16 or F16 on request.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { UsageError } from '@policy-lab/core';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** The float dtypes read into (and written from) float32. */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

/** Bytes per element of every dtype the format names (for checking offsets of tensors not read). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export interface DecodeOptions {
  /** Decode only the tensors this accepts (the others are checked, not converted). Default: all. */
  names?: (name: string) => boolean;
}

export function encodeSafetensors(
  tensors: Record<string, NamedTensor>,
  metadata: Record<string, string> = {},
  dtype: FloatDtype = 'F32',
): Uint8Array {
  const size = DTYPE_BYTES[dtype] as number;
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const tensor = tensors[name] as NamedTensor;
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length)
      throw new RangeError(`tensor '${name}': shape ${JSON.stringify(tensor.shape)} does not match ${tensor.data.length} values`);
    const bytes = tensor.data.length * size;
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (the format allows it).
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name] as NamedTensor;
    // Little-endian on every platform: write element by element through a DataView.
    const bytes = new DataView(out.buffer, position, data.length * size);
    if (dtype === 'F32') for (let i = 0; i < data.length; i++) bytes.setFloat32(i * 4, data[i] as number, true);
    else {
      const half = dtype === 'BF16' ? toBfloat16 : toFloat16;
      for (let i = 0; i < data.length; i++) bytes.setUint16(i * 2, half(data[i] as number), true);
    }
    position += data.length * size;
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));

/** float32 -> bfloat16 bits, rounding to nearest even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
function toBfloat16(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  if (Number.isNaN(value)) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBfloat16(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

/** IEEE half bits -> number (subnormals, infinities and NaN included). */
function fromFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** number -> IEEE half bits, rounding to nearest even; overflow to infinity. */
function toFloat16(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(Math.fround(value));
  if (magnitude >= 65520) return sign | 0x7c00; // rounds past the largest half (65504)
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude * 2 ** 24); // subnormal (may round up to the smallest normal)
  let exponent = Math.floor(Math.log2(magnitude));
  if (magnitude / 2 ** exponent >= 2) exponent += 1; // log2's rounding near powers of two
  if (magnitude / 2 ** exponent < 1) exponent -= 1;
  const scaled = magnitude / 2 ** exponent; // in [1, 2)
  const fraction = roundHalfEven((scaled - 1) * 1024);
  // A fraction rounded up to 1024 carries into the exponent: the bit layout adds it for us.
  return sign | (((exponent + 15) << 10) + fraction);
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function decodeFloats(view: DataView, dtype: FloatDtype, count: number): Float32Array {
  const data = new Float32Array(count);
  if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'BF16') for (let i = 0; i < count; i++) data[i] = fromBfloat16(view.getUint16(i * 2, true));
  else for (let i = 0; i < count; i++) data[i] = fromFloat16(view.getUint16(i * 2, true));
  return data;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  file = '<buffer>',
  options: DecodeOptions = {},
): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new UsageError(`${file}: not a valid safetensors file (${why})`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`header length ${headerLength} exceeds the file size ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  } catch {
    return fail('the header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors: Record<string, NamedTensor> = {};
  let covered = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const wanted = options.names?.(name) ?? true;
    const size = DTYPE_BYTES[String(dtype)];
    if (size === undefined) fail(`tensor '${name}' has unknown dtype ${String(dtype)}`);
    if (wanted && !(FLOAT_DTYPES as readonly unknown[]).includes(dtype))
      fail(`tensor '${name}' has dtype ${String(dtype)}; accepted: ${FLOAT_DTYPES.join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`tensor '${name}' has bad data_offsets`);
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (
      !(
        Number.isInteger(begin) &&
        Number.isInteger(end) &&
        begin >= 0 &&
        end <= dataLength &&
        end - begin === count * (size as number)
      )
    ) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] do not fit its shape or the file (data is ${dataLength} bytes)`);
    }
    if (wanted) {
      const tensorView = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
      tensors[name] = { shape: shape as number[], data: decodeFloats(tensorView, dtype as FloatDtype, count) };
    }
    covered += end - begin;
  }
  if (covered !== dataLength) fail(`the tensors cover ${covered} of ${dataLength} data bytes (truncated or trailing data)`);
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}

/** Writes to a temporary file next to `file`, then renames: a crash never leaves half a file. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const temporary = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(temporary, data);
  renameSync(temporary, file);
}

export function saveSafetensors(
  file: string,
  tensors: Record<string, NamedTensor>,
  metadata?: Record<string, string>,
  dtype: FloatDtype = 'F32',
): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata, dtype));
}

export function loadSafetensors(
  file: string,
  options: DecodeOptions = {},
): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new UsageError(`${file}: cannot read checkpoint (${(error as Error).message})`);
  }
  return decodeSafetensors(bytes, file, options);
}

/** The tensor names in a safetensors file's header, read without reading its data. */
export function safetensorsNames(file: string): string[] {
  let handle: number | undefined;
  try {
    handle = openSync(file, 'r');
    const prefix = Buffer.alloc(8);
    if (readSync(handle, prefix, 0, 8, 0) !== 8) throw new Error('shorter than the 8-byte header length');
    const length = Number(prefix.readBigUInt64LE(0));
    const header = Buffer.alloc(length);
    if (length > 100_000_000 || readSync(handle, header, 0, length, 8) !== length)
      throw new Error(`header length ${length} exceeds the file`);
    const parsed: unknown = JSON.parse(header.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('the header is not a JSON object');
    return Object.keys(parsed).filter((name) => name !== '__metadata__');
  } catch (error) {
    throw new UsageError(`${file}: not a readable safetensors file (${(error as Error).message})`);
  } finally {
    if (handle !== undefined) closeSync(handle);
  }
}

/**
 * sha256 of the tensors' names, shapes and bytes, in name order: stored in a file's metadata
 * (`dataSha256`) it lets a reader refuse a damaged file instead of silently using it.
 */
export function tensorsDigest(tensors: Record<string, NamedTensor>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const tensor = tensors[name] as NamedTensor;
    hash.update(`${name}:${tensor.shape.join('x')}:`);
    hash.update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  return hash.digest('hex');
}
