/**
 * Finite-difference checks of every op's backward pass (models/train/ops.ts), run in f64 with the
 * plain-loop GEMM so the check measures the formulas, not f32 rounding. Each check compares the
 * analytic gradient of L = Σ r·y (r fixed random weights) with the central difference
 * (L(x+h) − L(x−h)) / 2h, h = 1e-6. For smooth ops the truncation error is O(h²) ≈ 1e-12 and the
 * cancellation error ≈ 1e-16·|L|/h ≈ 1e-9, so a tolerance of 1e-6 (relative to max(1, |g|)) has
 * a wide margin and still catches any wrong index (errors of order 1).
 */
import assert from "node:assert/strict";
import { jsGemm, type Vec } from "../models/train/gemm.ts";
import {
  col2im,
  convDims,
  type ConvShape,
  denseBackward,
  denseForward,
  dropoutBackward,
  dropoutForward,
  im2col,
  maxPoolBackward,
  maxPoolForward,
  reluBackward,
  reluForward,
  softmaxCrossEntropy,
  transpose,
} from "../models/train/ops.ts";
import { Rng } from "../models/train/prng.ts";

const H = 1e-6;
const TOL = 1e-6;

function rand(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
}

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Checks grad (analytic dL/dv) against central differences of loss() over every element of v. */
function check(what: string, v: Float64Array, grad: Float64Array, loss: () => number): void {
  for (let i = 0; i < v.length; i++) {
    const keep = v[i]!;
    v[i] = keep + H;
    const lp = loss();
    v[i] = keep - H;
    const lm = loss();
    v[i] = keep;
    const fd = (lp - lm) / (2 * H);
    const err = Math.abs(fd - grad[i]!) / Math.max(1, Math.abs(fd));
    assert(err < TOL, `${what}[${i}]: analytic ${grad[i]}, finite difference ${fd}`);
  }
}

function convCase(pad: number) {
  const rng = new Rng(7, pad);
  const s: ConvShape = { b: 2, h: 5, w: 6, cin: 3, cout: 4, pad, ks: 3 };
  const { rows, kp } = convDims(s);
  const x = rand(rng, s.b * s.h * s.w * s.cin);
  const wt = rand(rng, kp * s.cout);
  for (let i = 9 * s.cin * s.cout; i < wt.length; i++) wt[i] = 0; // padding rows
  const bias = rand(rng, s.cout);
  const r = rand(rng, rows * s.cout);
  const cols = new Float64Array(rows * kp), y = new Float64Array(rows * s.cout);
  const loss = () => {
    im2col(s, x, cols);
    denseForward(jsGemm, cols, wt, bias, y, rows, kp, s.cout);
    return dot(y, r);
  };
  loss();
  const dwt = new Float64Array(wt.length), db = new Float64Array(s.cout);
  const w = new Float64Array(wt.length), dcols = new Float64Array(cols.length);
  const dx = new Float64Array(x.length);
  transpose(wt, w, kp, s.cout);
  denseBackward(jsGemm, cols, r, dwt, db, rows, kp, s.cout, w, dcols);
  col2im(s, dcols, dx);
  check("conv dx", x, dx, loss);
  check("conv dw", wt.subarray(0, 9 * s.cin * s.cout), dwt, loss);
  check("conv db", bias, db, loss);
}

Deno.test("conv2d (valid) backward matches finite differences for input, kernel and bias", () => {
  convCase(0);
});

Deno.test("conv2d (pad 1) backward matches finite differences for input, kernel and bias", () => {
  convCase(1);
});

Deno.test("dense backward matches finite differences for input, weight and bias", () => {
  const rng = new Rng(3);
  const rows = 3, k = 7, n = 5;
  const x = rand(rng, rows * k), wt = rand(rng, k * n), b = rand(rng, n), r = rand(rng, rows * n);
  const y = new Float64Array(rows * n);
  const loss = () => (denseForward(jsGemm, x, wt, b, y, rows, k, n), dot(y, r));
  const dwt = new Float64Array(k * n), db = new Float64Array(n), dx = new Float64Array(rows * k);
  const w = new Float64Array(k * n);
  transpose(wt, w, k, n);
  denseBackward(jsGemm, x, r, dwt, db, rows, k, n, w, dx);
  check("dense dx", x, dx, loss);
  check("dense dw", wt, dwt, loss);
  check("dense db", b, db, loss);
});

Deno.test("relu backward matches finite differences away from the kink", () => {
  const rng = new Rng(4);
  const x = rand(rng, 40);
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) < 1e-3) x[i] = 0.5; // keep off 0
  const r = rand(rng, 40), y = new Float64Array(40);
  const loss = () => (y.set(x), reluForward(y, 40), dot(y, r));
  loss();
  const dx = new Float64Array(r);
  reluBackward(y, dx, 40);
  check("relu dx", x, dx, loss);
});

Deno.test("maxpool 2x2 backward matches finite differences (odd sizes floor)", () => {
  const rng = new Rng(5);
  const s = { b: 2, h: 5, w: 7, c: 3 };
  const x = rand(rng, s.b * s.h * s.w * s.c); // distinct values: no ties within h = 1e-6
  const n = s.b * 2 * 3 * s.c;
  const y = new Float64Array(n), arg = new Int32Array(n), r = rand(rng, n);
  const loss = () => (maxPoolForward(s, x, y, arg), dot(y, r));
  loss();
  const dx = new Float64Array(x.length);
  maxPoolBackward(r, arg, dx, n);
  check("maxpool dx", x, dx, loss);
});

Deno.test("dropout backward matches finite differences for a fixed mask and keeps the mean", () => {
  const rng = new Rng(6);
  const x = rand(rng, 50), r = rand(rng, 50);
  const mask = new Float64Array(50), y = new Float64Array(50);
  let draws = new Rng(9);
  const loss = () => {
    draws = new Rng(9); // the same mask on every call
    y.set(x);
    dropoutForward(y, mask, 50, 0.5, () => draws.uniform());
    return dot(y, r);
  };
  loss();
  const dx = new Float64Array(r);
  dropoutBackward(dx, mask, 50);
  check("dropout dx", x, dx, loss);
  for (const m of mask) assert(m === 0 || m === 2, `mask value ${m}`);
});

Deno.test("softmax cross-entropy gradient matches finite differences; padding rows get none", () => {
  const rng = new Rng(8);
  const rows = 4, n = 10, count = 3, denom = 5;
  const z = rand(rng, rows * n, 3), labels = [3, 0, 9, 1];
  const dz = new Float64Array(rows * n);
  const loss = () => softmaxCrossEntropy(z, labels, dz, rows, count, n, denom).loss / denom;
  const keep = new Float64Array(rows * n);
  loss();
  keep.set(dz);
  check("xent dz", z, keep, loss);
  for (let j = 0; j < n; j++) assert.equal(keep[3 * n + j], 0);
});
