/**
 * The ops Magika needs (one_hot, get_rows, mul, gelu, norm, pool_1d, transpose, 3-D mul_mat,
 * 3-D reshape and soft_max): GraphBuilder's shape rules and the interpreter's values, on small
 * hand-computed cases and on random shapes against plain index formulas written here.
 */
import { assert, assertClose, assertEquals, assertThrows } from "./helpers/assert.ts";
import { GraphBuilder, GraphError, type Ne, numel } from "../compiler/ir/graph.ts";
import { formatGraph } from "../compiler/passes/pass.ts";
import { gelu, interpret, runGraph } from "../reference/interpreter.ts";
import { randomArray, rng } from "../testkit/random.ts";

const meta = { layout: "test", arch: "test", name: "test" };

/** Runs a one-input graph built by `body` on `x` and returns the output and its shape. */
function run1(
  dims: number[],
  x: Float32Array,
  body: (b: GraphBuilder, x: number) => number,
  options = {},
): { out: Float32Array; ne: Ne } {
  const b = new GraphBuilder();
  const input = b.input("x", dims);
  const y = body(b, input);
  const g = b.build(input, y, meta);
  return { out: runGraph(g, x, options), ne: g.nodes[y]!.ne };
}

/** A random shape of `n` dims, each 1..max. */
function randomDims(r: () => number, n: number, max: number): number[] {
  return Array.from({ length: n }, () => 1 + Math.floor(r() * max));
}

/** Flat index of (i0, i1, i2, i3) in a contiguous tensor of shape ne. */
function at(ne: readonly number[], i0: number, i1: number, i2 = 0, i3 = 0): number {
  return ((i3 * (ne[2] ?? 1) + i2) * (ne[1] ?? 1) + i1) * ne[0]! + i0;
}

Deno.test("one_hot: tokens [3] -> [depth,3] with a 1 at each token; batched tokens keep their dims", () => {
  const { out, ne } = run1([3], new Float32Array([3, 0, 2]), (b, x) => b.oneHot(x, 4));
  assertEquals(ne, [4, 3, 1, 1]);
  assertEquals(Array.from(out), [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0]);

  const batched = run1([2, 2], new Float32Array([1, 0, 0, 2]), (b, x) => b.oneHot(x, 3));
  assertEquals(batched.ne, [3, 2, 2, 1]);
  assertEquals(Array.from(batched.out), [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1]);
});

Deno.test("one_hot refuses bad depths, 4-D tokens, and tokens that are not integers in range", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [3]);
  assertThrows(() => b.oneHot(x, 0), GraphError, "depth");
  assertThrows(() => b.oneHot(x, 2.5), GraphError, "depth");
  assertThrows(() => b.oneHot(b.input("t4", [2, 1, 1, 2]), 3), GraphError, "at most 3 dims");
  const y = b.oneHot(x, 4, "hot");
  const g = b.build(x, y, meta);
  assertThrows(
    () => runGraph(g, new Float32Array([0, 4, 1])),
    GraphError,
    "'hot': token 4 at index 1",
  );
  assertThrows(() => runGraph(g, new Float32Array([0, 1.5, 1])), GraphError, "token 1.5");
  assertThrows(() => runGraph(g, new Float32Array([-1, 1, 1])), GraphError, "token -1");
});

Deno.test("get_rows picks rows of a by index, per plane (ggml_get_rows)", () => {
  const b = new GraphBuilder();
  const idx = b.input("idx", [3]);
  const a = b.weight("a", [2, 3], "f32", new Float32Array([1, 2, 3, 4, 5, 6])); // rows [1,2] [3,4] [5,6]
  const y = b.getRows(a, idx);
  const g = b.build(idx, y, meta);
  assertEquals(g.nodes[y]!.ne, [2, 3, 1, 1]);
  assertEquals(Array.from(runGraph(g, new Float32Array([2, 0, 2]))), [5, 6, 1, 2, 5, 6]);
  assertThrows(() => runGraph(g, new Float32Array([2, 3, 0])), GraphError, "row index 3");

  // a [1,2,2]: plane 0 rows [10] [11], plane 1 rows [20] [21]; idx [2,2]: two picks per plane.
  const b3 = new GraphBuilder();
  const idx3 = b3.input("idx", [2, 2]);
  const a3 = b3.weight("a", [1, 2, 2], "f32", new Float32Array([10, 11, 20, 21]));
  const y3 = b3.getRows(a3, idx3);
  const g3 = b3.build(idx3, y3, meta);
  assertEquals(g3.nodes[y3]!.ne, [1, 2, 2, 1]);
  assertEquals(Array.from(runGraph(g3, new Float32Array([1, 1, 0, 1]))), [11, 11, 20, 21]);
  assertThrows(() => b3.getRows(a3, b3.input("bad", [2, 3])), GraphError, "get_rows needs idx");
});

Deno.test("mul_mat(W, one_hot(t)) equals get_rows(cont(transpose(W)), t) on random shapes", () => {
  const r = rng(11);
  for (let trial = 0; trial < 20; trial++) {
    const [depth, m, n] = randomDims(r, 3, 9) as [number, number, number];
    const tokens = Float32Array.from({ length: n }, () => Math.floor(r() * depth));
    const w = randomArray(r, depth * m);
    const b = new GraphBuilder();
    const t = b.input("t", [n]);
    const wid = b.weight("w", [depth, m], "f32", w);
    const viaMatmul = b.mulMat(wid, b.oneHot(t, depth));
    const viaRows = b.getRows(b.cont(b.transpose(wid)), t);
    const g = b.build(t, viaMatmul, meta);
    const v = interpret(g, tokens);
    assertEquals(g.nodes[viaMatmul]!.ne, g.nodes[viaRows]!.ne);
    assertEquals(v[viaMatmul], v[viaRows]);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < m; i++) assertEquals(v[viaMatmul]![j * m + i], w[i * depth + tokens[j]!]);
    }
  }
});

Deno.test("mul_mat keeps ggml's inf * 0 = NaN: zero terms are skipped only when a is finite", () => {
  const { out } = run1(
    [2, 1],
    new Float32Array([0, 1]),
    (b, x) => b.mulMat(b.weight("w", [2, 2], "f32", new Float32Array([Infinity, 1, 2, 3])), x),
  );
  assert(Number.isNaN(out[0]!), `expected NaN, got ${out[0]}`);
  assertEquals(out[1], 3);
});

Deno.test("mul multiplies elementwise with b repeated (ggml_can_repeat), and refuses other shapes", () => {
  const { out, ne } = run1(
    [2, 3],
    new Float32Array([1, 2, 3, 4, 5, 6]),
    (b, x) => b.mul(x, b.weight("g", [2], "f32", new Float32Array([10, -1]))),
  );
  assertEquals(ne, [2, 3, 1, 1]);
  assertEquals(Array.from(out), [10, -2, 30, -4, 50, -6]);
  const b = new GraphBuilder();
  const x = b.input("x", [4, 3]);
  assertThrows(() => b.mul(x, b.input("y", [3])), GraphError, "mul cannot repeat [3] to [4,3]");
  assertThrows(() => b.mul(b.input("z", [2]), x), GraphError, "mul cannot repeat");
});

Deno.test("add and mul broadcast b over random 4-D shapes exactly as the index formula says", () => {
  const r = rng(12);
  for (let trial = 0; trial < 25; trial++) {
    const bDims = randomDims(r, 4, 3);
    const aDims = bDims.map((d) => d * (1 + Math.floor(r() * 3)));
    const x = randomArray(r, numel(aDims as unknown as Ne));
    const bv = randomArray(r, numel(bDims as unknown as Ne));
    for (const op of ["add", "mul"] as const) {
      const { out } = run1(aDims, x, (b, xi) => {
        const w = b.weight("b", bDims, "f32", bv);
        return op === "add" ? b.add_(xi, w) : b.mul(xi, w);
      });
      const [a0, a1, a2, a3] = aDims as [number, number, number, number];
      for (let i3 = 0; i3 < a3; i3++) {
        for (let i2 = 0; i2 < a2; i2++) {
          for (let i1 = 0; i1 < a1; i1++) {
            for (let i0 = 0; i0 < a0; i0++) {
              const i = at(aDims, i0, i1, i2, i3);
              const j = at(
                bDims,
                i0 % bDims[0]!,
                i1 % bDims[1]!,
                i2 % bDims[2]!,
                i3 % bDims[3]!,
              );
              const want = Math.fround(op === "add" ? x[i]! + bv[j]! : x[i]! * bv[j]!);
              assertEquals(out[i], want, `${op} at ${i} of [${aDims}] by [${bDims}]`);
            }
          }
        }
      }
    }
  }
});

Deno.test("gelu is the tanh form; ggmlGeluF16 reproduces ggml's clamp and f16 table", () => {
  const xs = [0, 1, -1, 2, -3, 0.5];
  // 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))), evaluated by hand in f64.
  const want = [
    0,
    0.8411919906082768,
    -0.15880800939172324,
    1.954597694087775,
    -0.0036373920817729943,
    0.34571400982514394,
  ];
  const { out } = run1([6], new Float32Array(xs), (b, x) => b.gelu(x));
  for (let i = 0; i < xs.length; i++) assertEquals(out[i], Math.fround(want[i]!), `gelu(${xs[i]})`);

  const edge = new Float32Array([-10, -11, 10, 12.5, 0.1234567, -2.71828]);
  const f16 = run1([6], edge, (b, x) => b.gelu(x), { ggmlGeluF16: true }).out;
  assertEquals(Array.from(f16.subarray(0, 4)), [0, 0, 10, 12.5]);
  for (const i of [4, 5]) {
    assertEquals(f16[i], Math.f16round(gelu(Math.f16round(edge[i]!))));
    assert(f16[i] !== Math.fround(gelu(edge[i]!)), "the f16 table rounds");
    assertClose(f16[i]!, gelu(edge[i]!), 2e-3 * Math.max(1, Math.abs(edge[i]!)));
  }
});

Deno.test("norm: each row along ne[0] to mean 0 and variance var/(var+eps)", () => {
  const row = new Float32Array([1, 2, 3, 4, 4, 3, 2, 1]);
  const exact = run1([4, 2], row, (b, x) => b.norm(x, 0)).out;
  const want = [-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738];
  for (let i = 0; i < 4; i++) {
    assertClose(exact[i]!, want[i]!, 1e-6);
    assertClose(exact[7 - i]!, want[i]!, 1e-6);
  }
  // variance 1.25, eps 0.25: (1 - 2.5) / sqrt(1.5)
  assertClose(
    run1([4], row.subarray(0, 4), (b, x) => b.norm(x, 0.25)).out[0]!,
    -1.2247448713915892,
    1e-6,
  );

  const r = rng(13);
  for (let trial = 0; trial < 10; trial++) {
    const dims = randomDims(r, 3, 12);
    const x = randomArray(r, numel([...dims, 1] as unknown as Ne), 3);
    const eps = 0.001;
    const { out, ne } = run1(dims, x, (b, xi) => b.norm(xi, eps));
    assertEquals(ne, [dims[0], dims[1], dims[2], 1]);
    for (let base = 0; base < x.length; base += dims[0]!) {
      let mean = 0, variance = 0, outMean = 0, outVar = 0;
      for (let i = 0; i < dims[0]!; i++) mean += x[base + i]! / dims[0]!;
      for (let i = 0; i < dims[0]!; i++) variance += (x[base + i]! - mean) ** 2 / dims[0]!;
      for (let i = 0; i < dims[0]!; i++) outMean += out[base + i]! / dims[0]!;
      for (let i = 0; i < dims[0]!; i++) outVar += (out[base + i]! - outMean) ** 2 / dims[0]!;
      assertClose(outMean, 0, 1e-5);
      assertClose(outVar, variance / (variance + eps), 1e-4);
    }
  }
  const b = new GraphBuilder();
  assertThrows(() => b.norm(b.input("x", [3]), -1), GraphError, "eps");
});

Deno.test("pool_1d max/avg over ne[0]; equals pool_2d with a 1-wide window on random shapes", () => {
  const x = new Float32Array([1, 5, 2, 8, 3, 3, -1, -2, -3, -4, -5, -6]);
  const max = run1([6, 2], x, (b, xi) => b.pool1d(xi, { pool: "max", k0: 2, s0: 2, p0: 0 }));
  assertEquals(max.ne, [3, 2, 1, 1]);
  assertEquals(Array.from(max.out), [5, 8, 3, -1, -3, -5]);
  const avg = run1([6, 2], x, (b, xi) => b.pool1d(xi, { pool: "avg", k0: 3, s0: 3, p0: 0 }));
  assertEquals(Array.from(avg.out), [8 / 3, 14 / 3, -2, -5].map(Math.fround));
  // Magika's global max pool: k = s = the whole row.
  assertEquals(
    Array.from(run1([6, 2], x, (b, xi) => b.pool1d(xi, { pool: "max", k0: 6, s0: 6, p0: 0 })).out),
    [8, -1],
  );

  const r = rng(14);
  for (let trial = 0; trial < 20; trial++) {
    const dims = randomDims(r, 4, 7);
    const k0 = 1 + Math.floor(r() * dims[0]!), s0 = 1 + Math.floor(r() * 3);
    const p0 = Math.floor(r() * Math.min(2, k0)),
      pool = r() < 0.5 ? "max" as const : "avg" as const;
    const xs = randomArray(r, numel(dims as unknown as Ne));
    const one = run1(dims, xs, (b, xi) => b.pool1d(xi, { pool, k0, s0, p0 }));
    // pool_2d pools ne[0] and ne[1]; with ne[1] moved to ne[2] and k1 = s1 = 1 it pools ne[0] only.
    const two = run1(
      [dims[0]!, 1, dims[1]! * dims[2]!, dims[3]!],
      xs,
      (b, xi) => b.pool2d(xi, { pool, k0, k1: 1, s0, s1: 1, p0, p1: 0 }),
    );
    assertEquals(one.ne[0], Math.floor((dims[0]! + 2 * p0 - k0) / s0) + 1);
    assertEquals(one.out, two.out, `pool_1d ${pool} k${k0} s${s0} p${p0} on [${dims}]`);
  }
  const b = new GraphBuilder();
  const xi = b.input("x", [4]);
  assertThrows(() => b.pool1d(xi, { pool: "max", k0: 0, s0: 1, p0: 0 }), GraphError, "kernel");
  assertThrows(() => b.pool1d(xi, { pool: "max", k0: 5, s0: 1, p0: 0 }), GraphError, "empty");
});

Deno.test("transpose swaps ne[0] and ne[1] (a permute 1,0,2,3) and is named so in dumps", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [3, 2, 2]);
  const t = b.transpose(x);
  const y = b.cont(t);
  const g = b.build(x, y, meta);
  assertEquals(g.nodes[t]!.ne, [2, 3, 2, 1]);
  assertEquals(g.nodes[t]!.op, { kind: "permute", axes: [1, 0, 2, 3] });
  const xs = Float32Array.from({ length: 12 }, (_, i) => i);
  // plane p, out[i1][i0] = x[i0][i1]
  assertEquals(Array.from(runGraph(g, xs)), [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
  assert(formatGraph(g).includes('"transpose" | [2,3,2] | transpose <- #0'), formatGraph(g));
});

Deno.test("3-D mul_mat is batched over ne[2] and ne[3], broadcasting a as ggml does", () => {
  const r = rng(15);
  for (let trial = 0; trial < 15; trial++) {
    const [K, M, N] = randomDims(r, 3, 6) as [number, number, number];
    const a2 = 1 + Math.floor(r() * 2), a3 = 1 + Math.floor(r() * 2);
    const r2 = 1 + Math.floor(r() * 3), r3 = 1 + Math.floor(r() * 2);
    const B = [K, N, a2 * r2, a3 * r3], A = [K, M, a2, a3];
    const av = randomArray(r, numel(A as unknown as Ne)),
      bv = randomArray(r, numel(B as unknown as Ne));
    const { out, ne } = run1(B, bv, (b, x) => b.mulMat(b.weight("a", A, "f32", av), x), {
      f64: true,
    });
    assertEquals(ne, [M, N, B[2], B[3]]);
    for (let i3 = 0; i3 < B[3]!; i3++) {
      for (let i2 = 0; i2 < B[2]!; i2++) {
        for (let n = 0; n < N; n++) {
          for (let m = 0; m < M; m++) {
            let s = 0;
            // ggml: plane (i2, i3) of b meets plane (i2 / r2, i3 / r3) of a.
            const ap = Math.floor(i2 / r2), aq = Math.floor(i3 / r3);
            for (let k = 0; k < K; k++) s += av[at(A, k, m, ap, aq)]! * bv[at(B, k, n, i2, i3)]!;
            assertClose(out[at(ne, m, n, i2, i3)]!, s, 1e-6);
          }
        }
      }
    }
  }
  const b = new GraphBuilder();
  assertThrows(
    () => b.mulMat(b.input("a", [4, 2, 2]), b.input("b", [4, 3, 3])),
    GraphError,
    "cannot broadcast",
  );
});

Deno.test("reshape and soft_max work on 3-D tensors", () => {
  const xs = Float32Array.from({ length: 24 }, (_, i) => i / 10);
  const re = run1([4, 3, 2], xs, (b, x) => b.reshape(x, [6, 2, 2]));
  assertEquals(re.ne, [6, 2, 2, 1]);
  assertEquals(re.out, xs);
  const b = new GraphBuilder();
  assertThrows(() => b.reshape(b.input("x", [4, 3, 2]), [5, 5]), GraphError, "element count");

  const sm = run1([4, 3, 2], xs, (b2, x) => b2.softMax(x));
  for (let row = 0; row < 6; row++) {
    let s = 0;
    for (let i = 0; i < 4; i++) s += sm.out[row * 4 + i]!;
    assertClose(s, 1, 1e-6);
    // equal steps of 0.1 along each row: each value is e^0.1 times the one before
    assertClose(sm.out[row * 4 + 1]! / sm.out[row * 4]!, Math.exp(0.1), 1e-5);
  }
});
