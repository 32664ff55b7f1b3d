// SIMD matrix products that run in place on the tfjs wasm heap (imported as this module's
// memory). Pointers are byte offsets into that heap. Nothing here allocates: the module
// has no data segments, so it writes only where it is told to.
//
// C[t] = A[t] x B[t] for t < batch, with
//   A element (i, p) at a + 4 * (t * aBatch + i * aRow + p * aCol)   (strides cover A and its transpose)
//   B element (p, j) at b + 4 * (t * bBatch + p * n + j)             (row-major [k, n])
//   C element (i, j) at c + 4 * (t * m * n + i * n + j)              (row-major [m, n])

@inline function splatA(a: usize, offset: usize): v128 {
  return v128.load32_splat(a + offset);
}

/** Four rows of A times B, eight columns at a time: 8 accumulators stay in registers. */
function rows4(a0: usize, aRow: usize, aCol: usize, b: usize, c: usize, k: i32, n: i32, acc: bool): void {
  const a1 = a0 + aRow;
  const a2 = a1 + aRow;
  const a3 = a2 + aRow;
  const rowBytes = <usize>n << 2;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const cp = c + (<usize>j << 2);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    if (acc) {
      c00 = v128.load(cp); c01 = v128.load(cp, 16);
      c10 = v128.load(cp + rowBytes); c11 = v128.load(cp + rowBytes, 16);
      c20 = v128.load(cp + 2 * rowBytes); c21 = v128.load(cp + 2 * rowBytes, 16);
      c30 = v128.load(cp + 3 * rowBytes); c31 = v128.load(cp + 3 * rowBytes, 16);
    }
    let bp = b + (<usize>j << 2);
    let ao: usize = 0;
    for (let p = 0; p < k; p++) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      const x0 = splatA(a0, ao);
      const x1 = splatA(a1, ao);
      const x2 = splatA(a2, ao);
      const x3 = splatA(a3, ao);
      c00 = f32x4.add(c00, f32x4.mul(x0, b0));
      c01 = f32x4.add(c01, f32x4.mul(x0, b1));
      c10 = f32x4.add(c10, f32x4.mul(x1, b0));
      c11 = f32x4.add(c11, f32x4.mul(x1, b1));
      c20 = f32x4.add(c20, f32x4.mul(x2, b0));
      c21 = f32x4.add(c21, f32x4.mul(x2, b1));
      c30 = f32x4.add(c30, f32x4.mul(x3, b0));
      c31 = f32x4.add(c31, f32x4.mul(x3, b1));
      bp += rowBytes;
      ao += aCol;
    }
    v128.store(cp, c00);
    v128.store(cp, c01, 16);
    v128.store(cp + rowBytes, c10);
    v128.store(cp + rowBytes, c11, 16);
    v128.store(cp + 2 * rowBytes, c20);
    v128.store(cp + 2 * rowBytes, c21, 16);
    v128.store(cp + 3 * rowBytes, c30);
    v128.store(cp + 3 * rowBytes, c31, 16);
  }
  for (; j + 4 <= n; j += 4) {
    const cp = c + (<usize>j << 2);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    if (acc) {
      c0 = v128.load(cp); c1 = v128.load(cp + rowBytes); c2 = v128.load(cp + 2 * rowBytes); c3 = v128.load(cp + 3 * rowBytes);
    }
    let bp = b + (<usize>j << 2);
    let ao: usize = 0;
    for (let p = 0; p < k; p++) {
      const b0 = v128.load(bp);
      c0 = f32x4.add(c0, f32x4.mul(splatA(a0, ao), b0));
      c1 = f32x4.add(c1, f32x4.mul(splatA(a1, ao), b0));
      c2 = f32x4.add(c2, f32x4.mul(splatA(a2, ao), b0));
      c3 = f32x4.add(c3, f32x4.mul(splatA(a3, ao), b0));
      bp += rowBytes;
      ao += aCol;
    }
    v128.store(cp, c0);
    v128.store(cp + rowBytes, c1);
    v128.store(cp + 2 * rowBytes, c2);
    v128.store(cp + 3 * rowBytes, c3);
  }
  for (; j < n; j++) {
    const cp = c + (<usize>j << 2);
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    if (acc) {
      s0 = load<f32>(cp); s1 = load<f32>(cp + rowBytes); s2 = load<f32>(cp + 2 * rowBytes); s3 = load<f32>(cp + 3 * rowBytes);
    }
    let bp = b + (<usize>j << 2);
    let ao: usize = 0;
    for (let p = 0; p < k; p++) {
      const bv = load<f32>(bp);
      s0 += load<f32>(a0 + ao) * bv;
      s1 += load<f32>(a1 + ao) * bv;
      s2 += load<f32>(a2 + ao) * bv;
      s3 += load<f32>(a3 + ao) * bv;
      bp += rowBytes;
      ao += aCol;
    }
    store<f32>(cp, s0);
    store<f32>(cp + rowBytes, s1);
    store<f32>(cp + 2 * rowBytes, s2);
    store<f32>(cp + 3 * rowBytes, s3);
  }
}

/** One row of A times B (the rows left over after blocks of four). */
function row1(a0: usize, aCol: usize, b: usize, c: usize, k: i32, n: i32, acc: bool): void {
  const rowBytes = <usize>n << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let sum = acc ? v128.load(c + (<usize>j << 2)) : f32x4.splat(0);
    let bp = b + (<usize>j << 2);
    let ao: usize = 0;
    for (let p = 0; p < k; p++) {
      sum = f32x4.add(sum, f32x4.mul(splatA(a0, ao), v128.load(bp)));
      bp += rowBytes;
      ao += aCol;
    }
    v128.store(c + (<usize>j << 2), sum);
  }
  for (; j < n; j++) {
    let s: f32 = acc ? load<f32>(c + (<usize>j << 2)) : 0;
    let bp = b + (<usize>j << 2);
    let ao: usize = 0;
    for (let p = 0; p < k; p++) {
      s += load<f32>(a0 + ao) * load<f32>(bp);
      bp += rowBytes;
      ao += aCol;
    }
    store<f32>(c + (<usize>j << 2), s);
  }
}

/** Rows [rowStart, rowEnd) of C[t] for t in [batchStart, batchEnd): lets two threads share one call. */
export function matmul(
  a: usize, b: usize, c: usize,
  batchStart: i32, batchEnd: i32, rowStart: i32, rowEnd: i32,
  m: i32, k: i32, n: i32,
  aBatch: i32, bBatch: i32, aRow: i32, aCol: i32,
): void {
  const aRowBytes = <usize>aRow << 2;
  const aColBytes = <usize>aCol << 2;
  // Cache blocking over k: a [kc, n] panel of B (about 128 KB) stays in L2 while every row
  // block uses it; C accumulates over the panels. kc depends on the shape only, so the
  // summation order (and the result) does not depend on how threads split the rows.
  const kc = max(16, min(k, (32768 / max(n, 1)) & ~7));
  for (let t = batchStart; t < batchEnd; t++) {
    const at = a + (<usize>(t * aBatch) << 2);
    const bt = b + (<usize>(t * bBatch) << 2);
    const ct = c + (<usize>(t * m * n) << 2);
    for (let p0 = 0; p0 < k; p0 += kc) {
      const kb = min(kc, k - p0);
      const ap = at + <usize>p0 * aColBytes;
      const bp = bt + (<usize>(p0 * n) << 2);
      const acc = p0 > 0;
      let i = rowStart;
      for (; i + 4 <= rowEnd; i += 4) {
        rows4(ap + <usize>i * aRowBytes, aRowBytes, aColBytes, bp, ct + (<usize>(i * n) << 2), kb, n, acc);
      }
      for (; i < rowEnd; i++) {
        row1(ap + <usize>i * aRowBytes, aColBytes, bp, ct + (<usize>(i * n) << 2), kb, n, acc);
      }
    }
  }
}

/** dst[t] = transpose(src[t]) for [rows, cols] matrices; src batches `srcBatch` floats apart (0 = shared). */
export function transpose(src: usize, dst: usize, batch: i32, rows: i32, cols: i32, srcBatch: i32): void {
  for (let t = 0; t < batch; t++) {
    const s = src + (<usize>(t * srcBatch) << 2);
    const d = dst + (<usize>(t * rows * cols) << 2);
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        store<f32>(d + (<usize>(q * rows + r) << 2), load<f32>(s + (<usize>(r * cols + q) << 2)));
      }
    }
  }
}
