import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { GraphBuilder, GraphError, numel } from "../compiler/ir/graph.ts";
import { interpret, runGraph } from "../reference/interpreter.ts";
import { randomArray, rng } from "../testkit/random.ts";

const meta = { layout: "test", arch: "test", name: "test" };

/** Largest absolute difference between two arrays of equal length. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

Deno.test("mul_mat computes out[n][m] = sum_k a[m][k] * b[n][k] on a hand example", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [2, 3]); // K=2, N=3
  const w = b.weight("w", [2, 2], "f32", new Float32Array([1, 2, 3, 4])); // rows m: [1,2], [3,4]
  const y = b.mulMat(w, x);
  const g = b.build(x, y, meta);
  const out = runGraph(g, new Float32Array([1, 0, 0, 1, 1, 1]));
  assertEquals(Array.from(out), [1, 3, 2, 4, 3, 7]);
  assertEquals(g.nodes[y]!.ne, [2, 3, 1, 1]);
});

Deno.test("add repeats the smaller operand along every dim (ggml_can_repeat)", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [2, 2, 3]);
  const bias = b.weight("bias", [1, 1, 3], "f32", new Float32Array([10, 20, 30]));
  const y = b.add_(x, bias);
  const g = b.build(x, y, meta);
  const out = runGraph(g, new Float32Array(12).fill(1));
  assertEquals(Array.from(out), [11, 11, 11, 11, 21, 21, 21, 21, 31, 31, 31, 31]);
  assertThrows(() => b.add_(bias, x), GraphError, "cannot repeat");
});

Deno.test("soft_max normalises each row along ne[0]", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [3, 2]);
  const g = b.build(x, b.softMax(x), meta);
  const out = runGraph(g, new Float32Array([0, 0, 0, 1, 2, 3]));
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const s = e[0]! + e[1]! + 1;
  const want = [1 / 3, 1 / 3, 1 / 3, e[0]! / s, e[1]! / s, 1 / s];
  assert(maxDiff(out, want) < 1e-7, "softmax values within 1e-7 (f32 rounding)");
});

/** conv_2d computed independently: im2col into [OW*OH, KW*KH*Cin] rows, then a dot per output. */
function convByIm2col(
  k: Float32Array,
  [KW, KH, CI, CO]: [number, number, number, number],
  x: Float32Array,
  [W, H, , N]: [number, number, number, number],
  s: number,
  p: number,
  d: number,
): Float32Array {
  const OW = Math.floor((W + 2 * p - d * (KW - 1) - 1) / s) + 1;
  const OH = Math.floor((H + 2 * p - d * (KH - 1) - 1) / s) + 1;
  const out = new Float32Array(OW * OH * CO * N);
  const patch = new Float64Array(KW * KH * CI);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let j = 0;
        for (let ci = 0; ci < CI; ci++) {
          for (let ky = 0; ky < KH; ky++) {
            for (let kx = 0; kx < KW; kx++, j++) {
              const ix = ox * s + kx * d - p, iy = oy * s + ky * d - p;
              patch[j] = ix >= 0 && ix < W && iy >= 0 && iy < H
                ? x[ix + W * (iy + H * (ci + CI * n))]!
                : 0;
            }
          }
        }
        for (let co = 0; co < CO; co++) {
          let sum = 0;
          for (let q = 0; q < patch.length; q++) sum += patch[q]! * k[q + patch.length * co]!;
          out[ox + OW * (oy + OH * (co + CO * n))] = sum;
        }
      }
    }
  }
  return out;
}

Deno.test("conv_2d matches an im2col convolution for odd sizes, padding, stride and dilation", () => {
  const r = rng(7);
  for (
    const [W, H, CI, CO, K, s, p, d, N] of [
      [7, 5, 3, 4, 3, 1, 0, 1, 1],
      [9, 8, 2, 5, 3, 2, 1, 1, 2],
      [6, 7, 1, 3, 2, 1, 2, 2, 1],
      [11, 11, 4, 6, 5, 3, 2, 1, 1],
    ]
  ) {
    const b = new GraphBuilder();
    const kne: [number, number, number, number] = [K!, K!, CI!, CO!];
    const xne: [number, number, number, number] = [W!, H!, CI!, N!];
    const kv = randomArray(r, numel([K!, K!, CI!, CO!]));
    const x = b.input("x", xne);
    const k = b.weight("k", kne, "f32", kv);
    const y = b.conv2d(k, x, { s0: s!, s1: s!, p0: p!, p1: p!, d0: d!, d1: d! });
    const g = b.build(x, y, meta);
    const xv = randomArray(r, numel(g.nodes[x]!.ne));
    const got = interpret(g, xv, { f64: true })[y]!;
    const want = convByIm2col(kv, kne, xv, xne, s!, p!, d!);
    // Both sum in f64 and round once to f32: they may differ only by the order of f64 sums.
    assert(maxDiff(got, want) < 1e-6, `conv ${W}x${H}x${CI}->${CO} k${K} s${s} p${p} d${d}`);
  }
});

Deno.test("pool_2d max skips padding, avg divides by the whole window", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [3, 3]);
  const mx = b.pool2d(x, { pool: "max", k0: 2, k1: 2, s0: 2, s1: 2, p0: 1, p1: 1 });
  const av = b.pool2d(x, { pool: "avg", k0: 2, k1: 2, s0: 2, s1: 2, p0: 1, p1: 1 });
  const g = b.build(x, mx, meta);
  const xv = new Float32Array([-1, -2, -3, -4, -5, -6, -7, -8, -9]);
  const vals = interpret(g, xv);
  // Windows (with 1 padding) at (-1..0, -1..0), (1..2, -1..0), ...: all-negative values prove
  // padding is skipped for max (a zero pad would win).
  assertEquals(Array.from(vals[mx]!), [-1, -2, -4, -5]);
  assertEquals(Array.from(vals[av]!), [-1 / 4, -5 / 4, -11 / 4, -28 / 4]);
});

Deno.test("permute(1,2,0,3) + cont lays out [W,H,C] as channels-fastest", () => {
  const b = new GraphBuilder();
  const W = 3, H = 2, C = 4;
  const x = b.input("x", [W, H, C]);
  const y = b.cont(b.permute(x, [1, 2, 0, 3]));
  const g = b.build(x, y, meta);
  assertEquals(g.nodes[y]!.ne, [C, W, H, 1]);
  const xv = Float32Array.from({ length: W * H * C }, (_, i) => i);
  const out = runGraph(g, xv);
  for (let c = 0; c < C; c++) {
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        assertEquals(out[c + C * (xx + W * yy)], xv[xx + W * (yy + H * c)]);
      }
    }
  }
});

Deno.test("GraphBuilder rejects mismatched shapes and names the node", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [784, 1]);
  const w = b.weight("w", [500, 10], "f32", new Float32Array(5000));
  assertThrows(() => b.mulMat(w, x, "fc1"), GraphError, "node 'fc1'");
  assertThrows(() => b.weight("bad", [2, 2], "f32", new Float32Array(3)), GraphError, "3 values");
  assertThrows(() => b.reshape(x, [100]), GraphError, "element count");
  assertThrows(() => b.permute(x, [0, 0, 1, 2]), GraphError, "permutation");
});

Deno.test("interpret() rejects an input of the wrong length", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [4]);
  const g = b.build(x, b.relu(x), meta);
  assertThrows(() => interpret(g, new Float32Array(3)), GraphError, "needs 4");
});
