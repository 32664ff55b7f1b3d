// Fused kernels for the transformer (issue 5): layer norm, causal softmax attention, an
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
  const c = f32x4.min(f32x4.max(x, f32x4.splat(-103.97208)), f32x4.splat(88.72284));
  const n = f32x4.nearest(f32x4.mul(c, f32x4.splat(LOG2E)));
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
  const ni = i32x4.trunc_sat_f32x4_s(n);
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
    store<f32>(y + o, f32x4.extract_lane(exp4(f32x4.splat(load<f32>(x + o))), 0));
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
  const inv = f32x4.splat(<f32>1 / <f32>d);
  for (let r = rowStart; r < rowEnd; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
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
    store<f32>(stats + (<usize>r << 3), f32x4.extract_lane(mv, 0));
    store<f32>(stats + (<usize>r << 3), rstd, 4);
  }
}

/** Rows per partial-sum block of the gain and bias gradients (fixed, so sums do not depend on threads). */
export const LN_BLOCK: i32 = 64;

/**
 * dx for rows of blocks [blockStart, blockEnd), and per block the partial sums of dy * xhat
 * (dgain) and dy (dbias) into partials[block] = [2, d].
 */
export function layerNormBackward(
  x: usize, gain: usize, dy: usize, stats: usize, dx: usize, partials: usize,
  rows: i32, d: i32, blockStart: i32, blockEnd: i32,
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
      const mv = f32x4.splat(load<f32>(stats + (<usize>r << 3)));
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
// scratch: this thread's (dh + 1) * tPad floats, tPad = T rounded up to 4.

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

/** s[j0..j0+4) = sum_e a[e] * bt[e, j0..j0+4) for j0 < jEnd (bt is [dh, tPad]). */
@inline function rowTimesT(a: usize, bt: usize, s: usize, jEnd: i32, dh: i32, tPad: i32): void {
  const colBytes = <usize>tPad << 2;
  for (let j0 = 0; j0 < jEnd; j0 += 4) {
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    let bp = bt + (<usize>j0 << 2);
    let e = 0;
    for (; e + 2 <= dh; e += 2) {
      acc0 = f32x4.add(acc0, f32x4.mul(f32x4.splat(load<f32>(a + (<usize>e << 2))), v128.load(bp)));
      acc1 = f32x4.add(acc1, f32x4.mul(f32x4.splat(load<f32>(a + (<usize>e << 2), 4)), v128.load(bp + colBytes)));
      bp += colBytes << 1;
    }
    if (e < dh) acc0 = f32x4.add(acc0, f32x4.mul(f32x4.splat(load<f32>(a + (<usize>e << 2))), v128.load(bp)));
    v128.store(s + (<usize>j0 << 2), f32x4.add(acc0, acc1));
  }
}

export function attentionForward(
  q: usize, k: usize, v: usize, o: usize, p: usize, scratch: usize,
  heads: i32, t: i32, dh: i32, bStride: i32, hStride: i32, tStride: i32, scale: f32,
  unitStart: i32, unitEnd: i32,
): void {
  const tPad = (t + 3) & ~3;
  const kt = scratch;
  const s = scratch + (<usize>(dh * tPad) << 2);
  const ts = <usize>tStride << 2;
  for (let u = unitStart; u < unitEnd; u++) {
    const off = base(u, heads, bStride, hStride);
    transposeRows(k + off, kt, t, tPad, dh, ts);
    const pu = p + (<usize>u * <usize>t * <usize>t << 2);
    for (let i = 0; i < t; i++) {
      const jEnd = (i + 4) & ~3; // the 4-blocks covering keys 0..i
      rowTimesT(q + off + <usize>i * ts, kt, s, jEnd, dh, tPad);
      let m: f32 = -Infinity;
      for (let j = 0; j <= i; j++) {
        const x = load<f32>(s + (<usize>j << 2)) * scale;
        store<f32>(s + (<usize>j << 2), x);
        m = max(m, x);
      }
      for (let j = i + 1; j < jEnd; j++) store<f32>(s + (<usize>j << 2), -Infinity);
      const mv = f32x4.splat(m);
      let sum = f32x4.splat(0);
      for (let j0 = 0; j0 < jEnd; j0 += 4) {
        const e = exp4(f32x4.sub(v128.load(s + (<usize>j0 << 2)), mv));
        v128.store(s + (<usize>j0 << 2), e);
        sum = f32x4.add(sum, e);
      }
      const r: f32 = 1 / hsum(sum);
      const prow = pu + (<usize>(i * t) << 2);
      for (let j = 0; j <= i; j++) {
        const pj = load<f32>(s + (<usize>j << 2)) * r;
        store<f32>(s + (<usize>j << 2), pj);
        store<f32>(prow + (<usize>j << 2), pj);
      }
      for (let j = i + 1; j < t; j++) store<f32>(prow + (<usize>j << 2), 0);
      // o[i] = sum_j p[j] v[j], four dh-lanes at a time.
      const orow = o + off + <usize>i * ts;
      for (let e0 = 0; e0 < dh; e0 += 4) {
        let acc = f32x4.splat(0);
        let vp = v + off + (<usize>e0 << 2);
        for (let j = 0; j <= i; j++) {
          acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(s + (<usize>j << 2))), v128.load(vp)));
          vp += ts;
        }
        v128.store(orow + (<usize>e0 << 2), acc);
      }
    }
  }
}

/**
 * Gradients of attentionForward: dq, dk, dv (same layout as q) from do and the saved p.
 * scratch: (dh + 2) * tPad floats for this thread.
 */
export function attentionBackward(
  q: usize, k: usize, v: usize, p: usize, dout: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
  heads: i32, t: i32, dh: i32, bStride: i32, hStride: i32, tStride: i32, scale: f32,
  unitStart: i32, unitEnd: i32,
): void {
  const tPad = (t + 3) & ~3;
  const vt = scratch;
  const dp = scratch + (<usize>(dh * tPad) << 2);
  const pr = dp + (<usize>tPad << 2);
  const ts = <usize>tStride << 2;
  const dhBytes = <usize>dh << 2;
  for (let u = unitStart; u < unitEnd; u++) {
    const off = base(u, heads, bStride, hStride);
    transposeRows(v + off, vt, t, tPad, dh, ts);
    for (let j = 0; j < t; j++) {
      const r = off + <usize>j * ts;
      for (let o: usize = 0; o < dhBytes; o += 16) {
        v128.store(dk + r + o, f32x4.splat(0));
        v128.store(dv + r + o, f32x4.splat(0));
      }
    }
    const pu = p + (<usize>u * <usize>t * <usize>t << 2);
    for (let i = 0; i < t; i++) {
      const jEnd = (i + 4) & ~3;
      const prow = pu + (<usize>(i * t) << 2);
      for (let j = 0; j < jEnd; j++) store<f32>(pr + (<usize>j << 2), j <= i ? load<f32>(prow + (<usize>j << 2)) : 0);
      const doi = dout + off + <usize>i * ts;
      rowTimesT(doi, vt, dp, jEnd, dh, tPad);
      // di = sum_j p[j] dp[j]; ds[j] = p[j] (dp[j] - di) * scale, kept in dp.
      let acc = f32x4.splat(0);
      for (let j0 = 0; j0 < jEnd; j0 += 4) {
        acc = f32x4.add(acc, f32x4.mul(v128.load(pr + (<usize>j0 << 2)), v128.load(dp + (<usize>j0 << 2))));
      }
      const di = f32x4.splat(hsum(acc));
      const sc = f32x4.splat(scale);
      for (let j0 = 0; j0 < jEnd; j0 += 4) {
        const o = <usize>j0 << 2;
        v128.store(dp + o, f32x4.mul(f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dp + o), di)), sc));
      }
      const qi = q + off + <usize>i * ts;
      const dqi = dq + off + <usize>i * ts;
      for (let e0 = 0; e0 < dh; e0 += 4) {
        const eo = <usize>e0 << 2;
        const qv = v128.load(qi + eo);
        const dov = v128.load(doi + eo);
        let g = f32x4.splat(0);
        let row = off + eo;
        for (let j = 0; j <= i; j++) {
          const dsj = f32x4.splat(load<f32>(dp + (<usize>j << 2)));
          g = f32x4.add(g, f32x4.mul(dsj, v128.load(k + row)));
          v128.store(dk + row, f32x4.add(v128.load(dk + row), f32x4.mul(dsj, qv)));
          v128.store(dv + row, f32x4.add(v128.load(dv + row), f32x4.mul(f32x4.splat(load<f32>(pr + (<usize>j << 2))), dov)));
          row += ts;
        }
        v128.store(dqi + eo, g);
      }
    }
  }
}
