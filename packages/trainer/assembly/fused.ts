// Fused kernels for the transformer (docs/backends.md): layer norm, causal softmax attention, an
// exponential, and column sums. Like matmul.ts they run in place on the tfjs wasm heap
// (pointers are byte offsets), allocate nothing, and take a [start, end) range of their
// outer loop so that two threads can share one call. Each output element is computed by
// one thread in a fixed order, so results do not depend on the thread count.

// ---------------------------------------------------------------------------------------
// exp on f32x4: Cephes-style range reduction x = n ln2 + r, a degree-6 polynomial for e^r,
// 2^n built in the exponent bits (as two factors, so results reach the subnormal range).

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

@inline function exp4(x: v128): v128 {
  // pmax/pmin are single instructions (min/max are not, for their NaN rules) and still pass NaN through.
  const c = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-103.97208)), f32x4.splat(88.72284));
  // Round to nearest by adding 1.5 * 2^23: the integer lands in the low mantissa bits (no float-to-int conversion).
  const t = f32x4.add(f32x4.mul(c, f32x4.splat(LOG2E)), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(c, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n as 2^(n/2) * 2^(n - n/2): each factor stays a normal float for n in [-150, 128].
  const ni = i32x4.sub(t, i32x4.splat(0x4b400000));
  const half = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), i32x4.splat(127)), 23);
  let out = f32x4.mul(f32x4.mul(y, s1), s2);
  // Underflow to 0 and overflow to +inf as expf does; NaN passes through the arithmetic above.
  out = v128.bitselect(f32x4.splat(0), out, f32x4.lt(x, f32x4.splat(-103.97208)));
  out = v128.bitselect(f32x4.splat(Infinity), out, f32x4.gt(x, f32x4.splat(88.72284)));
  return out;
}

/** y[i] = exp(x[i]) for i in [start, end). */
export function expRange(x: usize, y: usize, start: i32, end: i32): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, exp4(v128.load(x + o)));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(exp4(v128.load32_splat(x + o)), 0));
  }
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------------------------------
// Column sums: out[c] = sum over r of x[r, c], rows in order (the gradient of a broadcast bias).

/** Columns [colStart, colEnd) of a [rows, cols] matrix; colStart a multiple of 4. */
export function colSum(x: usize, out: usize, rows: i32, cols: i32, colStart: i32, colEnd: i32): void {
  const rowBytes = <usize>cols << 2;
  let c = colStart;
  for (; c + 16 <= colEnd; c += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let p = x + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += rowBytes;
    }
    const o = out + (<usize>c << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; c + 4 <= colEnd; c += 4) {
    let a = f32x4.splat(0);
    let p = x + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      a = f32x4.add(a, v128.load(p));
      p += rowBytes;
    }
    v128.store(out + (<usize>c << 2), a);
  }
  for (; c < colEnd; c++) {
    let s: f32 = 0;
    let p = x + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(out + (<usize>c << 2), s);
  }
}

// ---------------------------------------------------------------------------------------
// Layer norm over the last axis (d a multiple of 4). stats[r] = (mean, 1/sqrt(var + eps)).

export function layerNormForward(
  x: usize, gain: usize, bias: usize, y: usize, stats: usize,
  d: i32, eps: f32, rowStart: i32, rowEnd: i32,
): void {
  const rowBytes = <usize>d << 2;
  for (let r = rowStart; r < rowEnd; r++) {
    normalizeRow(x + <usize>r * rowBytes, y + <usize>r * rowBytes, gain, bias, stats + (<usize>r << 3), rowBytes, d, eps);
  }
}

/**
 * The residual add fused with the layer norm that follows it: h = x + delta (stored, the
 * residual stream goes on) and y = layerNorm(h), in one pass over each row.
 */
export function addLayerNormForward(
  x: usize, delta: usize, h: usize, gain: usize, bias: usize, y: usize, stats: usize,
  d: i32, eps: f32, rowStart: i32, rowEnd: i32,
): void {
  const rowBytes = <usize>d << 2;
  for (let r = rowStart; r < rowEnd; r++) {
    const offset = <usize>r * rowBytes;
    const hr = h + offset;
    for (let o: usize = 0; o < rowBytes; o += 16) {
      v128.store(hr + o, f32x4.add(v128.load(x + offset + o), v128.load(delta + offset + o)));
    }
    normalizeRow(hr, y + offset, gain, bias, stats + (<usize>r << 3), rowBytes, d, eps);
  }
}

@inline function normalizeRow(
  xr: usize, yr: usize, gain: usize, bias: usize, statsRow: usize, rowBytes: usize, d: i32, eps: f32,
): void {
  const inv = f32x4.splat(<f32>1 / <f32>d);
  let s = f32x4.splat(0);
  for (let o: usize = 0; o < rowBytes; o += 16) s = f32x4.add(s, v128.load(xr + o));
  const mean = f32x4.splat(hsum(s));
  const mv = f32x4.mul(mean, inv);
  let q = f32x4.splat(0);
  for (let o: usize = 0; o < rowBytes; o += 16) {
    const c = f32x4.sub(v128.load(xr + o), mv);
    q = f32x4.add(q, f32x4.mul(c, c));
  }
  const variance = hsum(q) / <f32>d;
  const rstd: f32 = 1 / Mathf.sqrt(variance + eps);
  const rv = f32x4.splat(rstd);
  for (let o: usize = 0; o < rowBytes; o += 16) {
    const c = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
    v128.store(yr + o, f32x4.add(f32x4.mul(c, v128.load(gain + o)), v128.load(bias + o)));
  }
  store<f32>(statsRow, f32x4.extract_lane(mv, 0));
  store<f32>(statsRow, rstd, 4);
}

/** Rows per partial-sum block of the gain and bias gradients (fixed, so sums do not depend on threads). */
export const LN_BLOCK: i32 = 64;

/**
 * dx for rows of blocks [blockStart, blockEnd), and per block the partial sums of dy * xhat
 * (dgain) and dy (dbias) into partials[block] = [2, d]. dres (0 = none) is added to dx: the
 * gradient reaching h = x + delta through the residual stream.
 */
export function layerNormBackward(
  x: usize, gain: usize, dy: usize, stats: usize, dx: usize, partials: usize,
  rows: i32, d: i32, blockStart: i32, blockEnd: i32, dres: usize,
): void {
  const rowBytes = <usize>d << 2;
  const inv: f32 = <f32>1 / <f32>d;
  for (let blk = blockStart; blk < blockEnd; blk++) {
    const pg = partials + <usize>blk * 2 * rowBytes;
    const pb = pg + rowBytes;
    for (let o: usize = 0; o < rowBytes; o += 16) {
      v128.store(pg + o, f32x4.splat(0));
      v128.store(pb + o, f32x4.splat(0));
    }
    const end = min(rows, (blk + 1) * LN_BLOCK);
    for (let r = blk * LN_BLOCK; r < end; r++) {
      const xr = x + <usize>r * rowBytes;
      const dyr = dy + <usize>r * rowBytes;
      const dxr = dx + <usize>r * rowBytes;
      const mv = v128.load32_splat(stats + (<usize>r << 3));
      const rstd = load<f32>(stats + (<usize>r << 3), 4);
      const rv = f32x4.splat(rstd);
      let a = f32x4.splat(0);
      let b = f32x4.splat(0);
      for (let o: usize = 0; o < rowBytes; o += 16) {
        const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
        const g = v128.load(dyr + o);
        const gdy = f32x4.mul(g, v128.load(gain + o));
        a = f32x4.add(a, gdy);
        b = f32x4.add(b, f32x4.mul(gdy, xhat));
        v128.store(pg + o, f32x4.add(v128.load(pg + o), f32x4.mul(g, xhat)));
        v128.store(pb + o, f32x4.add(v128.load(pb + o), g));
      }
      const av = f32x4.splat(hsum(a) * inv);
      const bv = f32x4.splat(hsum(b) * inv);
      for (let o: usize = 0; o < rowBytes; o += 16) {
        const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
        const gdy = f32x4.mul(v128.load(dyr + o), v128.load(gain + o));
        v128.store(dxr + o, f32x4.mul(rv, f32x4.sub(f32x4.sub(gdy, av), f32x4.mul(xhat, bv))));
      }
      // The residual stream's own gradient (fused residual add): dh = dres + dLayerNorm.
      if (dres != 0) {
        const dr = dres + <usize>r * rowBytes;
        for (let o: usize = 0; o < rowBytes; o += 16) v128.store(dxr + o, f32x4.add(v128.load(dr + o), v128.load(dxr + o)));
      }
    }
  }
}

/** dgain, dbias = the block partials summed in block order. */
export function layerNormReduce(partials: usize, blocks: i32, d: i32, dgain: usize, dbias: usize): void {
  const rowBytes = <usize>d << 2;
  for (let o: usize = 0; o < rowBytes; o += 16) {
    let g = f32x4.splat(0);
    let b = f32x4.splat(0);
    for (let blk = 0; blk < blocks; blk++) {
      const pg = partials + <usize>blk * 2 * rowBytes;
      g = f32x4.add(g, v128.load(pg + o));
      b = f32x4.add(b, v128.load(pg + rowBytes + o));
    }
    v128.store(dgain + o, g);
    v128.store(dbias + o, b);
  }
}

// ---------------------------------------------------------------------------------------
// Causal softmax attention for units u = (b, h) in [unitStart, unitEnd), u = b * heads + h.
// Element (b, h, t, e) of q, k, v, o (and their gradients) is at
//   4 * (b * bStride + h * hStride + t * tStride + e)
// which covers [B*H, T, dh] (bStride = H*T*dh, hStride = T*dh, tStride = dh) and the
// projections' own [B, T, H, dh] (bStride = T*H*dh, hStride = dh, tStride = H*dh).
// p[u] is the [T, T] probability matrix (zero above the diagonal), saved for the backward.
// Query rows go in blocks of four (register blocking: each key/value load serves four
// rows); the causal structure means block i0 needs keys [0, i0 + 4) only.
// scratch: this thread's (dh + 8) * tPad floats, tPad = T rounded up to 4.

@inline function base(u: i32, heads: i32, bStride: i32, hStride: i32): usize {
  return <usize>((u / heads) * bStride + (u % heads) * hStride) << 2;
}

/** dst[e * tPad + j] = src row j element e, zero for j in [T, tPad). */
function transposeRows(src: usize, dst: usize, t: i32, tPad: i32, dh: i32, tStrideBytes: usize): void {
  for (let j = 0; j < tPad; j++) {
    const row = src + <usize>j * tStrideBytes;
    for (let e = 0; e < dh; e++) {
      store<f32>(dst + (<usize>(e * tPad + j) << 2), j < t ? load<f32>(row + (<usize>e << 2)) : 0);
    }
  }
}

/**
 * out[r, j] = sum_e a[r, e] * bt[e, j] for four rows r (a rows `aStride` bytes apart) and
 * j < jEnd (a multiple of 4); bt is [dh, tPad]; out rows are tPad floats apart.
 */
function rows4TimesT(a: usize, aStride: usize, bt: usize, out: usize, jEnd: i32, dh: i32, tPad: i32): void {
  const colBytes = <usize>tPad << 2;
  const a1 = a + aStride;
  const a2 = a1 + aStride;
  const a3 = a2 + aStride;
  let j0 = 0;
  for (; j0 + 8 <= jEnd; j0 += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let bp = bt + (<usize>j0 << 2);
    for (let e = 0; e < dh; e++) {
      const eo = <usize>e << 2;
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      const x0 = v128.load32_splat(a + eo);
      const x1 = v128.load32_splat(a1 + eo);
      const x2 = v128.load32_splat(a2 + eo);
      const x3 = v128.load32_splat(a3 + eo);
      c00 = f32x4.add(c00, f32x4.mul(x0, b0));
      c01 = f32x4.add(c01, f32x4.mul(x0, b1));
      c10 = f32x4.add(c10, f32x4.mul(x1, b0));
      c11 = f32x4.add(c11, f32x4.mul(x1, b1));
      c20 = f32x4.add(c20, f32x4.mul(x2, b0));
      c21 = f32x4.add(c21, f32x4.mul(x2, b1));
      c30 = f32x4.add(c30, f32x4.mul(x3, b0));
      c31 = f32x4.add(c31, f32x4.mul(x3, b1));
      bp += colBytes;
    }
    const o = out + (<usize>j0 << 2);
    v128.store(o, c00);
    v128.store(o, c01, 16);
    v128.store(o + colBytes, c10);
    v128.store(o + colBytes, c11, 16);
    v128.store(o + 2 * colBytes, c20);
    v128.store(o + 2 * colBytes, c21, 16);
    v128.store(o + 3 * colBytes, c30);
    v128.store(o + 3 * colBytes, c31, 16);
  }
  if (j0 < jEnd) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let bp = bt + (<usize>j0 << 2);
    for (let e = 0; e < dh; e++) {
      const eo = <usize>e << 2;
      const b0 = v128.load(bp);
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(a + eo), b0));
      c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(a1 + eo), b0));
      c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(a2 + eo), b0));
      c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(a3 + eo), b0));
      bp += colBytes;
    }
    const o = out + (<usize>j0 << 2);
    v128.store(o, c0);
    v128.store(o + colBytes, c1);
    v128.store(o + 2 * colBytes, c2);
    v128.store(o + 3 * colBytes, c3);
  }
}

/** The one-row version of rows4TimesT (rows left over when T % 4 != 0). */
function row1TimesT(a: usize, bt: usize, out: usize, jEnd: i32, dh: i32, tPad: i32): void {
  const colBytes = <usize>tPad << 2;
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    let c = f32x4.splat(0);
    let bp = bt + (<usize>j0 << 2);
    for (let e = 0; e < dh; e++) {
      c = f32x4.add(c, f32x4.mul(v128.load32_splat(a + (<usize>e << 2)), v128.load(bp)));
      bp += colBytes;
    }
    v128.store(out + (<usize>j0 << 2), c);
  }
}

/**
 * out[r] = sum_{j < jEnd} c[r, j] * src[j] for `nr` (1 or 4) rows: c rows `cStride` bytes
 * apart, src and out rows `ts` bytes apart, dh a multiple of 4.
 */
function coeffTimesRows(c: usize, cStride: usize, nr: i32, src: usize, out: usize, ts: usize, jEnd: i32, dh: i32): void {
  const c1 = c + cStride;
  const c2 = c1 + cStride;
  const c3 = c2 + cStride;
  let e0 = 0;
  if (nr == 4) {
    // Eight lanes of dh per pass: each coefficient broadcast serves two vectors.
    for (; e0 + 8 <= dh; e0 += 8) {
      const eo = <usize>e0 << 2;
      let sp = src + eo;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      for (let j = 0; j < jEnd; j++) {
        const jo = <usize>j << 2;
        const s = v128.load(sp);
        const t = v128.load(sp, 16);
        const x0 = v128.load32_splat(c + jo);
        const x1 = v128.load32_splat(c1 + jo);
        const x2 = v128.load32_splat(c2 + jo);
        const x3 = v128.load32_splat(c3 + jo);
        a0 = f32x4.add(a0, f32x4.mul(x0, s));
        b0 = f32x4.add(b0, f32x4.mul(x0, t));
        a1 = f32x4.add(a1, f32x4.mul(x1, s));
        b1 = f32x4.add(b1, f32x4.mul(x1, t));
        a2 = f32x4.add(a2, f32x4.mul(x2, s));
        b2 = f32x4.add(b2, f32x4.mul(x2, t));
        a3 = f32x4.add(a3, f32x4.mul(x3, s));
        b3 = f32x4.add(b3, f32x4.mul(x3, t));
        sp += ts;
      }
      v128.store(out + eo, a0);
      v128.store(out + eo, b0, 16);
      v128.store(out + ts + eo, a1);
      v128.store(out + ts + eo, b1, 16);
      v128.store(out + 2 * ts + eo, a2);
      v128.store(out + 2 * ts + eo, b2, 16);
      v128.store(out + 3 * ts + eo, a3);
      v128.store(out + 3 * ts + eo, b3, 16);
    }
  }
  for (; e0 < dh; e0 += 4) {
    const eo = <usize>e0 << 2;
    let sp = src + eo;
    if (nr == 4) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let j = 0; j < jEnd; j++) {
        const jo = <usize>j << 2;
        const s = v128.load(sp);
        a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(c + jo), s));
        a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(c1 + jo), s));
        a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(c2 + jo), s));
        a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(c3 + jo), s));
        sp += ts;
      }
      v128.store(out + eo, a0);
      v128.store(out + ts + eo, a1);
      v128.store(out + 2 * ts + eo, a2);
      v128.store(out + 3 * ts + eo, a3);
    } else {
      let a0 = f32x4.splat(0);
      for (let j = 0; j < jEnd; j++) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(c + (<usize>j << 2)), v128.load(sp)));
        sp += ts;
      }
      v128.store(out + eo, a0);
    }
  }
}

/** dst[j] += sum_r c[r, j] * src[r] for j < jEnd and `nr` (1 or 4) rows (layout as coeffTimesRows). */
function rankUpdate(c: usize, cStride: usize, nr: i32, src: usize, dst: usize, ts: usize, jEnd: i32, dh: i32): void {
  const c1 = c + cStride;
  const c2 = c1 + cStride;
  const c3 = c2 + cStride;
  let e0 = 0;
  if (nr == 4) {
    for (; e0 + 8 <= dh; e0 += 8) {
      const eo = <usize>e0 << 2;
      let dp = dst + eo;
      const x0 = v128.load(src + eo);
      const x1 = v128.load(src + ts + eo);
      const x2 = v128.load(src + 2 * ts + eo);
      const x3 = v128.load(src + 3 * ts + eo);
      const y0 = v128.load(src + eo, 16);
      const y1 = v128.load(src + ts + eo, 16);
      const y2 = v128.load(src + 2 * ts + eo, 16);
      const y3 = v128.load(src + 3 * ts + eo, 16);
      for (let j = 0; j < jEnd; j++) {
        const jo = <usize>j << 2;
        const k0 = v128.load32_splat(c + jo);
        const k1 = v128.load32_splat(c1 + jo);
        const k2 = v128.load32_splat(c2 + jo);
        const k3 = v128.load32_splat(c3 + jo);
        let d = v128.load(dp);
        let g = v128.load(dp, 16);
        d = f32x4.add(d, f32x4.mul(k0, x0));
        g = f32x4.add(g, f32x4.mul(k0, y0));
        d = f32x4.add(d, f32x4.mul(k1, x1));
        g = f32x4.add(g, f32x4.mul(k1, y1));
        d = f32x4.add(d, f32x4.mul(k2, x2));
        g = f32x4.add(g, f32x4.mul(k2, y2));
        d = f32x4.add(d, f32x4.mul(k3, x3));
        g = f32x4.add(g, f32x4.mul(k3, y3));
        v128.store(dp, d);
        v128.store(dp, g, 16);
        dp += ts;
      }
    }
  }
  for (; e0 < dh; e0 += 4) {
    const eo = <usize>e0 << 2;
    let dp = dst + eo;
    if (nr == 4) {
      const x0 = v128.load(src + eo);
      const x1 = v128.load(src + ts + eo);
      const x2 = v128.load(src + 2 * ts + eo);
      const x3 = v128.load(src + 3 * ts + eo);
      for (let j = 0; j < jEnd; j++) {
        const jo = <usize>j << 2;
        let d = v128.load(dp);
        d = f32x4.add(d, f32x4.mul(v128.load32_splat(c + jo), x0));
        d = f32x4.add(d, f32x4.mul(v128.load32_splat(c1 + jo), x1));
        d = f32x4.add(d, f32x4.mul(v128.load32_splat(c2 + jo), x2));
        d = f32x4.add(d, f32x4.mul(v128.load32_splat(c3 + jo), x3));
        v128.store(dp, d);
        dp += ts;
      }
    } else {
      const x0 = v128.load(src + eo);
      for (let j = 0; j < jEnd; j++) {
        v128.store(dp, f32x4.add(v128.load(dp), f32x4.mul(v128.load32_splat(c + (<usize>j << 2)), x0)));
        dp += ts;
      }
    }
  }
}

/**
 * In place on a scores row s[0, jEnd): p = softmax(scale * s) over keys 0..i (zero after),
 * and the row copied to prow[0, t).
 */
function softmaxRow(s: usize, prow: usize, i: i32, jEnd: i32, t: i32, scale: f32): void {
  const sv = f32x4.splat(scale);
  let mv = f32x4.splat(-Infinity);
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    const o = <usize>j0 << 2;
    const x = f32x4.mul(v128.load(s + o), sv);
    v128.store(s + o, x);
    if (j0 + 4 <= i + 1) mv = f32x4.pmax(mv, x);
  }
  for (let j = i + 1; j < jEnd; j++) store<f32>(s + (<usize>j << 2), -Infinity);
  let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let j = (i + 1) & ~3; j <= i; j++) m = max(m, load<f32>(s + (<usize>j << 2)));
  const mm = f32x4.splat(m);
  let sum = f32x4.splat(0);
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    const o = <usize>j0 << 2;
    const x = f32x4.sub(v128.load(s + o), mm);
    let e: v128;
    if (j0 + 4 <= i + 1) e = exp4(x);
    else {
      // Keys after the query are masked: exp of 0 there, then zeroed. exp4(-Infinity) would give
      // the same 0, but through a subnormal product, which x86 assists in microcode (~100x slower;
      // it was most of the forward pass).
      const valid = i32x4.le_s(i32x4.add(i32x4.splat(j0), i32x4(0, 1, 2, 3)), i32x4.splat(i));
      e = v128.and(exp4(v128.and(x, valid)), valid);
    }
    v128.store(s + o, e);
    sum = f32x4.add(sum, e);
  }
  const r = f32x4.splat(<f32>1 / hsum(sum));
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    const o = <usize>j0 << 2;
    v128.store(s + o, f32x4.mul(v128.load(s + o), r));
  }
  // prow has t floats: whole vectors up to t & ~3, then single floats.
  const t4 = t & ~3;
  let j0 = 0;
  for (; j0 < t4 && j0 < jEnd; j0 += 4) v128.store(prow + (<usize>j0 << 2), v128.load(s + (<usize>j0 << 2)));
  for (; j0 < t4; j0 += 4) v128.store(prow + (<usize>j0 << 2), f32x4.splat(0));
  for (let j = j0; j < t; j++) store<f32>(prow + (<usize>j << 2), j < jEnd ? load<f32>(s + (<usize>j << 2)) : 0);
}

export function attentionForward(
  q: usize, k: usize, v: usize, o: usize, p: usize, scratch: usize,
  heads: i32, t: i32, dh: i32, bStride: i32, hStride: i32, tStride: i32, scale: f32,
  unitStart: i32, unitEnd: i32,
): void {
  const tPad = (t + 3) & ~3;
  const kt = scratch;
  const s4 = scratch + (<usize>(dh * tPad) << 2);
  const sStride = <usize>tPad << 2;
  const ts = <usize>tStride << 2;
  const pRow = <usize>t << 2;
  for (let u = unitStart; u < unitEnd; u++) {
    const off = base(u, heads, bStride, hStride);
    transposeRows(k + off, kt, t, tPad, dh, ts);
    const pu = p + <usize>u * <usize>t * pRow;
    let i0 = 0;
    for (; i0 + 4 <= t; i0 += 4) {
      const jEnd = i0 + 4;
      rows4TimesT(q + off + <usize>i0 * ts, ts, kt, s4, jEnd, dh, tPad);
      for (let r = 0; r < 4; r++) softmaxRow(s4 + <usize>r * sStride, pu + <usize>(i0 + r) * pRow, i0 + r, jEnd, t, scale);
      coeffTimesRows(s4, sStride, 4, v + off, o + off + <usize>i0 * ts, ts, jEnd, dh);
    }
    for (let i = i0; i < t; i++) {
      const jEnd = (i + 4) & ~3;
      row1TimesT(q + off + <usize>i * ts, kt, s4, jEnd, dh, tPad);
      softmaxRow(s4, pu + <usize>i * pRow, i, jEnd, t, scale);
      coeffTimesRows(s4, sStride, 1, v + off, o + off + <usize>i * ts, ts, min(jEnd, t), dh);
    }
  }
}

/**
 * dsRow[j] = p[j] * (dp[j] - sum_j p[j] dp[j]) * scale for j < jEnd, in place on dsRow (= dp).
 * p beyond the diagonal is zero, so those entries come out zero.
 */
function softmaxBackRow(prow: usize, ds: usize, jEnd: i32, scale: f32): void {
  let acc = f32x4.splat(0);
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    const o = <usize>j0 << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(prow + o), v128.load(ds + o)));
  }
  const di = f32x4.splat(hsum(acc));
  const sc = f32x4.splat(scale);
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    const o = <usize>j0 << 2;
    v128.store(ds + o, f32x4.mul(f32x4.mul(v128.load(prow + o), f32x4.sub(v128.load(ds + o), di)), sc));
  }
}

/**
 * Gradients of attentionForward: dq, dk, dv (same layout as q) from dout and the saved p.
 * scratch: (dh + 8) * tPad floats for this thread.
 */
export function attentionBackward(
  q: usize, k: usize, v: usize, p: usize, dout: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
  heads: i32, t: i32, dh: i32, bStride: i32, hStride: i32, tStride: i32, scale: f32,
  unitStart: i32, unitEnd: i32,
): void {
  const tPad = (t + 3) & ~3;
  const sStride = <usize>tPad << 2;
  const vt = scratch;
  const ds4 = vt + (<usize>(dh * tPad) << 2);
  const p4 = ds4 + 4 * sStride; // p rows with zero padding to tPad
  const ts = <usize>tStride << 2;
  const dhBytes = <usize>dh << 2;
  const pRow = <usize>t << 2;
  for (let u = unitStart; u < unitEnd; u++) {
    const off = base(u, heads, bStride, hStride);
    transposeRows(v + off, vt, t, tPad, dh, ts);
    for (let j = 0; j < t; j++) {
      const r = off + <usize>j * ts;
      for (let e: usize = 0; e < dhBytes; e += 16) {
        v128.store(dk + r + e, f32x4.splat(0));
        v128.store(dv + r + e, f32x4.splat(0));
      }
    }
    const pu = p + <usize>u * <usize>t * pRow;
    let i0 = 0;
    for (; i0 + 4 <= t; i0 += 4) {
      const jEnd = i0 + 4;
      for (let r = 0; r < 4; r++) {
        const src = pu + <usize>(i0 + r) * pRow;
        const dst = p4 + <usize>r * sStride;
        for (let j0 = 0; j0 < jEnd; j0 += 4) v128.store(dst + (<usize>j0 << 2), v128.load(src + (<usize>j0 << 2)));
      }
      const rowOff = off + <usize>i0 * ts;
      rows4TimesT(dout + rowOff, ts, vt, ds4, jEnd, dh, tPad);
      for (let r = 0; r < 4; r++) softmaxBackRow(p4 + <usize>r * sStride, ds4 + <usize>r * sStride, jEnd, scale);
      coeffTimesRows(ds4, sStride, 4, k + off, dq + rowOff, ts, jEnd, dh);
      rankUpdate(ds4, sStride, 4, q + rowOff, dk + off, ts, jEnd, dh);
      rankUpdate(p4, sStride, 4, dout + rowOff, dv + off, ts, jEnd, dh);
    }
    for (let i = i0; i < t; i++) backwardRow(q, k, pu, dout, dq, dk, dv, vt, ds4, p4, off, i, t, tPad, dh, ts, pRow, scale);
  }
}

/** One query row of the backward (the rows left over when T % 4 != 0). */
function backwardRow(
  q: usize, k: usize, pu: usize, dout: usize, dq: usize, dk: usize, dv: usize,
  vt: usize, ds: usize, pr: usize, off: usize, i: i32, t: i32, tPad: i32, dh: i32, ts: usize, pRow: usize, scale: f32,
): void {
  const jEnd = (i + 4) & ~3;
  const prow = pu + <usize>i * pRow;
  for (let j = 0; j < jEnd; j++) store<f32>(pr + (<usize>j << 2), j <= i ? load<f32>(prow + (<usize>j << 2)) : 0);
  const rowOff = off + <usize>i * ts;
  row1TimesT(dout + rowOff, vt, ds, jEnd, dh, tPad);
  softmaxBackRow(pr, ds, jEnd, scale);
  const keys = min(jEnd, t);
  coeffTimesRows(ds, 0, 1, k + off, dq + rowOff, ts, keys, dh);
  rankUpdate(ds, 0, 1, q + rowOff, dk + off, ts, keys, dh);
  rankUpdate(pr, 0, 1, dout + rowOff, dv + off, ts, keys, dh);
}

// ---------------------------------------------------------------------------------------
// Adam / AdamW for one tensor in one pass (the optimizer otherwise runs ~15 small kernels per
// variable). The operations and their order are those of optim/adam.ts's tensor ops, each
// rounded to f32 as tfjs rounds them, so the result matches the stock update exactly.

export function adamUpdate(
  p: usize, m: usize, v: usize, g: usize, pOut: usize, mOut: usize, vOut: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32,
  correction1: f32, correction2: f32, eps: f32, lr: f32, lrDecay: f32,
): void {
  const b1 = f32x4.splat(beta1), a1 = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2), a2 = f32x4.splat(oneMinusBeta2);
  const c1 = f32x4.splat(correction1), c2 = f32x4.splat(correction2);
  const e = f32x4.splat(eps), l = f32x4.splat(lr), wd = f32x4.splat(lrDecay);
  const decay = lrDecay != 0;
  const vectorEnd = <usize>(n & ~3) << 2;
  for (let o: usize = 0; o < vectorEnd; o += 16) {
    const gv = v128.load(g + o);
    const mn = f32x4.add(f32x4.mul(v128.load(m + o), b1), f32x4.mul(gv, a1));
    const vn = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(f32x4.mul(gv, gv), a2));
    const update = f32x4.div(f32x4.div(mn, c1), f32x4.add(f32x4.sqrt(f32x4.div(vn, c2)), e));
    const pv = v128.load(p + o);
    let next = f32x4.sub(pv, f32x4.mul(update, l));
    if (decay) next = f32x4.sub(next, f32x4.mul(pv, wd));
    v128.store(mOut + o, mn);
    v128.store(vOut + o, vn);
    v128.store(pOut + o, next);
  }
  for (let o = vectorEnd; o < (<usize>n << 2); o += 4) {
    const gs = load<f32>(g + o);
    const mn: f32 = load<f32>(m + o) * beta1 + gs * oneMinusBeta1;
    const vn: f32 = load<f32>(v + o) * beta2 + (gs * gs) * oneMinusBeta2;
    const update: f32 = (mn / correction1) / (Mathf.sqrt(vn / correction2) + eps);
    const pv = load<f32>(p + o);
    let next: f32 = pv - update * lr;
    if (decay) next = next - pv * lrDecay;
    store<f32>(mOut + o, mn);
    store<f32>(vOut + o, vn);
    store<f32>(pOut + o, next);
  }
}
