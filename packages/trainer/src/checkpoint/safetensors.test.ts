import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from './safetensors.js';

/** A fixture built by hand from the format spec: one F32 tensor "a" of shape [2] = [1.0, -2.0]. */
function handBuilt(): Uint8Array {
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const bytes = new Uint8Array(8 + header.length + 8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header.length, true); // low word of the u64 little-endian length
  bytes.set(Buffer.from(header), 8);
  view.setFloat32(8 + header.length, 1.0, true);
  view.setFloat32(8 + header.length + 4, -2.0, true);
  return bytes;
}

describe('safetensors', () => {
  it('reads a hand-built file and writes the layout the spec describes', () => {
    const { tensors } = decodeSafetensors(handBuilt());
    expect(tensors.a?.shape).toEqual([2]);
    expect(Array.from(tensors.a?.data ?? [])).toEqual([1, -2]);
    const written = encodeSafetensors({ a: { shape: [2], data: new Float32Array([1, -2]) } });
    const length = Number(new DataView(written.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(written.subarray(8, 8 + length)).toString());
    expect(header).toEqual({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    expect((8 + length) % 8).toBe(0);
    expect(Array.from(new Float32Array(written.slice(8 + length).buffer))).toEqual([1, -2]);
  });

  it('round-trips arbitrary float32 tensors exactly, with metadata', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'),
          fc.float32Array({ maxLength: 20 }),
        ),
        (entries) => {
          const tensors = Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, { shape: [v.length], data: v }]));
          const decoded = decodeSafetensors(encodeSafetensors(tensors, { step: '3' }));
          expect(decoded.metadata).toEqual({ step: '3' });
          for (const [name, tensor] of Object.entries(tensors)) expect(decoded.tensors[name]?.data).toEqual(tensor.data);
        },
      ),
    );
  });

  it('refuses truncated and corrupted files, naming the file (exit 2: bad input)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'safetensors-'));
    const file = path.join(dir, 'model.safetensors');
    saveSafetensors(file, { w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
    expect(readdirSync(dir)).toEqual(['model.safetensors']); // no temp file left behind
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => loadSafetensors(file)).toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a valid safetensors file`),
    );
    writeFileSync(file, Buffer.concat([bytes.subarray(0, 9), Buffer.from('x'), bytes.subarray(10)]));
    expect(() => loadSafetensors(file)).toThrow(/header is not JSON/);
    writeFileSync(file, bytes.subarray(0, 5));
    expect(() => loadSafetensors(file)).toThrow(/shorter than the 8-byte header/);
    expect(() => loadSafetensors(path.join(dir, 'missing'))).toThrow(/cannot read checkpoint/);
    // A corrupt input file is bad input: exit 2, like any other.
    expect(() => loadSafetensors(file)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
