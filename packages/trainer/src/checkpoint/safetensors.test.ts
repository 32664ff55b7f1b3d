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

  it('reads F16 and BF16 tensors (hand-built bits) into float32, and skips tensors not asked for', () => {
    // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal) as F16; 1.0, -2.0, 3.140625 as BF16.
    const half = [0x3c00, 0xc000, 0x7bff, 0x0001];
    const brain = [0x3f80, 0xc000, 0x4049];
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] },
      i: { dtype: 'I64', shape: [1], data_offsets: [14, 22] },
    });
    const bytes = new Uint8Array(8 + header.length + 22);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, header.length, true);
    bytes.set(Buffer.from(header), 8);
    [...half, ...brain].forEach((bits, i) => view.setUint16(8 + header.length + 2 * i, bits, true));
    const { tensors } = decodeSafetensors(bytes, 'hand.safetensors', { names: (name) => name !== 'i' });
    expect(Array.from(tensors.h?.data ?? [])).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Array.from(tensors.b?.data ?? [])).toEqual([1, -2, 3.140625]);
    expect(tensors.i).toBeUndefined();
    expect(() => decodeSafetensors(bytes, 'hand.safetensors')).toThrow(
      "hand.safetensors: not a valid safetensors file (tensor 'i' has dtype I64; accepted: F32, F16, BF16)",
    );
  });

  it('writes BF16 and F16 rounding to nearest even, and reads back values they represent exactly', () => {
    const values = new Float32Array([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0.1, 70000, -0]);
    const read = (dtype: 'BF16' | 'F16') =>
      Array.from(
        decodeSafetensors(encodeSafetensors({ x: { shape: [values.length], data: values } }, {}, dtype)).tensors.x?.data ?? [],
      );
    // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie that rounds to even (1), 1 + 3*2^-8 rounds up.
    expect(read('BF16')).toEqual([1, -2, 1, 1 + 2 ** -6, 0.10009765625, 70144, -0]);
    expect(read('F16')).toEqual([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0.0999755859375, Number.POSITIVE_INFINITY, -0]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (bits) => {
        const isNan = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
        fc.pre(!isNan);
        const bytes = new Uint8Array(2);
        new DataView(bytes.buffer).setUint16(0, bits, true);
        const header = '{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}';
        const file = new Uint8Array(8 + header.length + 2);
        new DataView(file.buffer).setUint32(0, header.length, true);
        file.set(Buffer.from(header), 8);
        file.set(bytes, 8 + header.length);
        const value = decodeSafetensors(file).tensors.x?.data ?? new Float32Array();
        const again = encodeSafetensors({ x: { shape: [1], data: value } }, {}, 'F16');
        expect(new DataView(again.buffer).getUint16(again.length - 2, true)).toBe(bits);
      }),
    );
  });
});
