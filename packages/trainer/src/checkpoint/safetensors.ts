/**
 * safetensors, written and read by us (the format: an 8-byte little-endian header length,
 * a JSON header mapping names to { dtype, shape, data_offsets }, then raw little-endian
 * data). Files are written atomically (temp file + rename), and a truncated or corrupted
 * file is rejected with an error naming it, never half-loaded.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { UsageError } from '@policy-lab/core';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const DTYPE = 'F32';

export function encodeSafetensors(tensors: Record<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const tensor = tensors[name] as NamedTensor;
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length)
      throw new RangeError(`tensor '${name}': shape ${JSON.stringify(tensor.shape)} does not match ${tensor.data.length} values`);
    header[name] = { dtype: DTYPE, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
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
    const bytes = new DataView(out.buffer, position, data.byteLength);
    for (let i = 0; i < data.length; i++) bytes.setFloat32(i * 4, data[i] as number, true);
    position += data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  file = '<buffer>',
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
    if (dtype !== DTYPE) fail(`tensor '${name}' has dtype ${String(dtype)}; only F32 is supported`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`tensor '${name}' has bad data_offsets`);
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end <= dataLength && end - begin === count * 4)) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] do not fit its shape or the file (data is ${dataLength} bytes)`);
    }
    const data = new Float32Array(count);
    const tensorView = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    for (let i = 0; i < count; i++) data[i] = tensorView.getFloat32(i * 4, true);
    tensors[name] = { shape: shape as number[], data };
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

export function saveSafetensors(file: string, tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(file: string): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new UsageError(`${file}: cannot read checkpoint (${(error as Error).message})`);
  }
  return decodeSafetensors(bytes, file);
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
