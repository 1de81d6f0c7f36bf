/**
 * Forward and backward of the ops the MNIST nets use, on preallocated buffers.
 *
 * Activations are NHWC: a batch of images is `[B][H][W][C]` with the channel fastest, i.e. ggml
 * ne `[C, W, H, B]`. A convolution is im2col + {@link Gemm}: the column matrix has one row per
 * output position and `kp` columns, column `(ky*3 + kx)*cin + ci` (padded with zero columns up to
 * `kp`, a multiple of 4, so the SIMD kernel applies). Conv weights are kept as `wt[kp][cout]`,
 * dense weights as `wt[k][n]` (input-major); the exporter turns them into ggml layouts.
 *
 * Every backward function *accumulates* into its gradient outputs; callers zero them.
 *
 * @module
 */
import type { Gemm, Vec } from "./gemm.ts";

/** Geometry of a 3×3 stride-1 convolution on a batch. */
export interface ConvShape {
  /** batch size */
  b: number;
  /** input height and width */
  h: number;
  w: number;
  cin: number;
  cout: number;
  /** zero padding on every side */
  pad: number;
  /** kernel size (3 for every net here) */
  ks: number;
}

/** @returns output height/width, rows of the column matrix and its padded width `kp` */
export function convDims(s: ConvShape): { oh: number; ow: number; rows: number; kp: number } {
  const oh = s.h + 2 * s.pad - s.ks + 1, ow = s.w + 2 * s.pad - s.ks + 1;
  const k = s.ks * s.ks * s.cin;
  return { oh, ow, rows: s.b * oh * ow, kp: (k + 3) & ~3 };
}

/**
 * Builds the column matrix of `x` (NHWC) for a convolution.
 *
 * @param s the geometry
 * @param x input `[b][h][w][cin]`
 * @param cols output `[rows][kp]`; padding columns are written as zero
 */
export function im2col(s: ConvShape, x: Vec, cols: Vec): void {
  const { oh, ow, kp } = convDims(s);
  const { h, w, cin, pad, ks } = s;
  let r = 0;
  for (let n = 0; n < s.b; n++) {
    const xb = n * h * w * cin;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, r++) {
        let p = r * kp;
        for (let ky = 0; ky < ks; ky++) {
          const iy = oy + ky - pad;
          for (let kx = 0; kx < ks; kx++) {
            const ix = ox + kx - pad;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              for (let c = 0; c < cin; c++) cols[p++] = 0;
            } else {
              const src = xb + (iy * w + ix) * cin;
              for (let c = 0; c < cin; c++) cols[p++] = x[src + c]!;
            }
          }
        }
        const end = (r + 1) * kp;
        while (p < end) cols[p++] = 0;
      }
    }
  }
}

/**
 * Scatters column-matrix gradients back onto the input gradient (the adjoint of im2col).
 *
 * @param s the geometry
 * @param dcols gradient of the column matrix `[rows][kp]`
 * @param dx input gradient `[b][h][w][cin]`, accumulated into
 */
export function col2im(s: ConvShape, dcols: Vec, dx: Vec): void {
  const { oh, ow, kp } = convDims(s);
  const { h, w, cin, pad, ks } = s;
  let r = 0;
  for (let n = 0; n < s.b; n++) {
    const xb = n * h * w * cin;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++, r++) {
        let p = r * kp;
        for (let ky = 0; ky < ks; ky++) {
          const iy = oy + ky - pad;
          for (let kx = 0; kx < ks; kx++) {
            const ix = ox + kx - pad;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              p += cin;
            } else {
              const dst = xb + (iy * w + ix) * cin;
              for (let c = 0; c < cin; c++) dx[dst + c]! += dcols[p++]!;
            }
          }
        }
      }
    }
  }
}

/**
 * Dense layer forward (also the GEMM half of a convolution): `y[r][n] = bias[n] + Σ x[r][k]·wt[k][n]`.
 *
 * @param g the GEMM
 * @param x input `[rows][k]` (row stride `ldx`, default `k`)
 * @param wt weights `[k][n]`
 * @param bias `[n]`
 * @param y output `[rows][n]` (overwritten)
 * @param rows number of rows
 * @param k input width
 * @param n output width
 * @param sparse scratch for {@link Gemm.gemmSparseA} when x has many zeros (ReLU outputs, pixels)
 */
export function denseForward(
  g: Gemm,
  x: Vec,
  wt: Vec,
  bias: Vec,
  y: Vec,
  rows: number,
  k: number,
  n: number,
  sparse?: Float32Array,
): void {
  for (let r = 0; r < rows; r++) y.set(bias.subarray(0, n) as never, r * n);
  if (sparse) g.gemmSparseA(y, x, wt, rows, n, k, k, 1, n, n, sparse);
  else g.gemm(y, x, wt, rows, n, k, k, 1, n, n);
}

/**
 * Dense layer backward: accumulates `dwt += xᵀ·dy`, `db += Σ_r dy[r]` and, when `dx` is given,
 * `dx += dy·wtᵀ` (`w` is `wt` transposed, `[n][k]`, which the caller keeps up to date).
 *
 * @param g the GEMM
 * @param x forward input `[rows][k]`
 * @param dy output gradient `[rows][n]`
 * @param dwt weight gradient `[k][n]`
 * @param db bias gradient `[n]`
 * @param rows number of rows
 * @param k input width
 * @param n output width
 * @param w weights transposed `[n][k]` (only needed with dx)
 * @param dx input gradient `[rows][k]` or undefined
 * @param sparse scratch for {@link Gemm.gemmSparseA} when x has many zeros
 */
export function denseBackward(
  g: Gemm,
  x: Vec,
  dy: Vec,
  dwt: Vec,
  db: Vec,
  rows: number,
  k: number,
  n: number,
  w?: Vec,
  dx?: Vec,
  sparse?: Float32Array,
): void {
  if (sparse) g.gemmSparseA(dwt, x, dy, k, n, rows, 1, k, n, n, sparse);
  else g.gemm(dwt, x, dy, k, n, rows, 1, k, n, n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < n; j++) db[j]! += dy[o + j]!;
  }
  if (dx && w) g.gemm(dx, dy, w, rows, k, n, n, 1, k, k);
}

/**
 * Writes `w[j][i] = wt[i][j]` (the transposed copy the input gradient needs).
 *
 * @param wt `[k][n]`
 * @param w `[n][k]`, overwritten
 * @param k rows of wt
 * @param n columns of wt
 */
export function transpose(wt: Vec, w: Vec, k: number, n: number): void {
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) w[j * k + i] = wt[i * n + j]!;
}

/**
 * ReLU over the first `len` values: `y[i] = x[i] > 0 ? x[i] : 0` (in place without `x`).
 *
 * @param y output
 * @param len number of values
 * @param x input (default: y itself)
 */
export function reluForward(y: Vec, len: number, x: Vec = y): void {
  for (let i = 0; i < len; i++) {
    const v = x[i]!;
    y[i] = v > 0 ? v : 0;
  }
}

/**
 * ReLU backward: `dx[i] = g[i]`, or 0 where the forward output `y[i]` was not positive.
 *
 * @param y forward output
 * @param dx gradient out (masked in place without `g`)
 * @param len number of values
 * @param g gradient in (default: dx itself)
 */
export function reluBackward(y: Vec, dx: Vec, len: number, g: Vec = dx): void {
  for (let i = 0; i < len; i++) dx[i] = y[i]! > 0 ? g[i]! : 0;
}

/** Geometry of a 2×2 stride-2 max-pool (floor: a trailing odd row/column is dropped). */
export interface PoolShape {
  b: number;
  h: number;
  w: number;
  c: number;
}

/**
 * Max-pool forward, remembering which input won each output (first maximum on ties).
 *
 * @param s the geometry
 * @param x input `[b][h][w][c]`
 * @param y output `[b][h/2][w/2][c]`
 * @param arg winner indices into x, one per output
 */
export function maxPoolForward(s: PoolShape, x: Vec, y: Vec, arg: Int32Array): void {
  const oh = s.h >> 1, ow = s.w >> 1, { w, c } = s;
  let o = 0;
  for (let n = 0; n < s.b; n++) {
    const xb = n * s.h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const p00 = xb + ((2 * oy) * w + 2 * ox) * c;
        const p01 = p00 + c, p10 = p00 + w * c, p11 = p10 + c;
        for (let ch = 0; ch < c; ch++, o++) {
          let best = p00 + ch, v = x[best]!;
          if (x[p01 + ch]! > v) best = p01 + ch, v = x[best]!;
          if (x[p10 + ch]! > v) best = p10 + ch, v = x[best]!;
          if (x[p11 + ch]! > v) best = p11 + ch, v = x[best]!;
          y[o] = v;
          arg[o] = best;
        }
      }
    }
  }
}

/**
 * Max-pool backward: routes each output gradient to its winner.
 *
 * @param dy output gradient
 * @param arg winners from the forward pass
 * @param dx input gradient, accumulated into
 * @param len number of outputs
 */
export function maxPoolBackward(dy: Vec, arg: Int32Array, dx: Vec, len: number): void {
  for (let i = 0; i < len; i++) dx[arg[i]!]! += dy[i]!;
}

/**
 * Inverted dropout forward in place: each value is kept with probability 1 - p and scaled by
 * 1 / (1 - p), or zeroed; `mask` records the factor applied.
 *
 * @param x values, changed in place
 * @param mask factors applied (0 or 1/(1-p))
 * @param len number of values
 * @param p drop probability
 * @param uniform a source of uniform [0, 1) draws
 */
export function dropoutForward(
  x: Vec,
  mask: Vec,
  len: number,
  p: number,
  uniform: () => number,
): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < len; i++) {
    const m = uniform() < p ? 0 : keep;
    mask[i] = m;
    x[i] = x[i]! * m;
  }
}

/** Dropout backward in place: `dx[i] *= mask[i]`. */
export function dropoutBackward(dx: Vec, mask: Vec, len: number): void {
  for (let i = 0; i < len; i++) dx[i] = dx[i]! * mask[i]!;
}

/**
 * Softmax cross-entropy over rows of logits, forward and backward in one pass. The loss of each
 * counted row is divided by `denom` (the full mini-batch size), so gradients of shards add up to
 * the mini-batch mean. Rows at or past `count` are padding: zero gradient, not counted.
 *
 * @param logits `[rows][n]`
 * @param labels class per row
 * @param dlogits gradient output `[rows][n]` (overwritten)
 * @param rows rows in the buffer
 * @param count rows that are real samples
 * @param n classes
 * @param denom divisor of the loss
 * @returns summed (undivided) loss of the counted rows and how many were classified correctly
 */
export function softmaxCrossEntropy(
  logits: Vec,
  labels: ArrayLike<number>,
  dlogits: Vec,
  rows: number,
  count: number,
  n: number,
  denom: number,
): { loss: number; correct: number } {
  let loss = 0, correct = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    if (r >= count) {
      for (let j = 0; j < n; j++) dlogits[o + j] = 0;
      continue;
    }
    let max = -Infinity, arg = 0;
    for (let j = 0; j < n; j++) if (logits[o + j]! > max) max = logits[o + j]!, arg = j;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(logits[o + j]! - max);
    const label = labels[r]!;
    loss += Math.log(sum) - (logits[o + label]! - max);
    if (arg === label) correct++;
    for (let j = 0; j < n; j++) {
      const pj = Math.exp(logits[o + j]! - max) / sum;
      dlogits[o + j] = (pj - (j === label ? 1 : 0)) / denom;
    }
  }
  return { loss, correct };
}
