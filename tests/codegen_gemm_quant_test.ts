/**
 * The q8_0 gemm kernel (compiler/codegen/gemm_quant.ts, `--weights q8_0`) on random shapes: row
 * counts that leave a partial 3-row block, output counts that leave a 1-vector tail group, one
 * to three blocks of 32 along k, relu / gelu / none, and an all-zero input row. The gemm's
 * input rows are gathered from a random signed table (get_rows), so they are exact and signed.
 *
 * Reference: the kernel's documented arithmetic computed here independently in f64 (q8_0
 * weights as the plan holds them; activations quantised per row and block of 32 to
 * round_half_even(x / d), d = f32(amax / 63); per block the exact integer sum times d_x * d_w;
 * plus bias; activation). Tolerance 1e-5 * max(1, |ref|): what is left is the f32 rounding of
 * the scaled block sums (and FMA in the relaxed variant); a wrong index or scale is O(0.1).
 * The three emitted variants (WASM relaxed, WASM plain, TS) compute the same integer sums; plain
 * WASM and TS are equal bit for bit without gelu.
 *
 * Against the f32 interpreter the quantisation itself shows: checked to stay within 0.05 of the
 * f32 result for these O(1) outputs (7-bit activations: a step of amax / 63 per block).
 */
import assert from "node:assert/strict";
import { compileGraph } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import { GraphBuilder } from "../compiler/ir/graph.ts";
import type { GemmKernel } from "../compiler/plan/plan.ts";
import { gelu, runGraph } from "../reference/interpreter.ts";
import { randomArray, rng } from "../testkit/random.ts";

const TOL = 1e-5;
const QUANT_TOL = 0.05;
const MAGIC = 12582912;

type Act = "gelu" | "relu" | "none";

/** Signed activations, exactly: rows gathered from a random table (row 0 all zero) by index. */
const DEPTH = 5;

function gemmGraph(seed: number, k: number, n: number, m: number, act: Act) {
  const r = rng(seed);
  const b = new GraphBuilder();
  const input = b.input("idx", [n]);
  const table = randomArray(r, k * DEPTH, 2);
  table.fill(0, 0, k);
  let x = b.getRows(b.weight("table", [k, DEPTH], "f32", table), input, "rows");
  x = b.mulMat(b.weight("w", [k, m], "f32", randomArray(r, k * m, 0.3)), x, "gemm");
  x = b.add_(x, b.weight("bias", [m], "f32", randomArray(r, m, 0.5)), "gemm+b");
  if (act === "gelu") x = b.gelu(x, "gelu");
  if (act === "relu") x = b.relu(x, "relu");
  return b.build(input, x, { layout: "test", arch: "test", name: "test" });
}

/** The kernel's arithmetic in f64 (see the module doc). */
function reference(g: GemmKernel, x: Float32Array): Float64Array {
  const q = g.quant!, out = new Float64Array(g.n * g.m);
  for (let row = 0; row < g.n; row++) {
    for (let o = 0; o < g.m; o++) {
      let v = g.bias ? g.bias[o]! : 0;
      for (let blk = 0; blk < q.blocks; blk++) {
        const at = row * g.k + blk * 32;
        let amax = 0;
        for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[at + i]!));
        const d = Math.fround(amax / 63), id = d > 0 ? Math.fround(1 / d) : 0;
        let s = 0;
        for (let i = 0; i < 32; i++) {
          const xq = Math.fround(Math.fround(x[at + i]! * id) + MAGIC) - MAGIC; // ties to even
          s += xq * q.q[o * g.k + blk * 32 + i]!;
        }
        v += s * d * q.d[o * q.blocks + blk]!;
      }
      out[row * g.m + o] = g.activation === "gelu"
        ? gelu(v)
        : g.activation === "relu"
        ? Math.max(0, v)
        : v;
    }
  }
  return out;
}

const SHAPES: [number, number, number, Act][] = [
  [32, 2, 8, "gelu"], // one 3-row block short: 2 rows; one group
  [64, 7, 12, "relu"], // 2 full row blocks + 1 row; a group and a 1-vector tail
  [96, 9, 16, "none"], // 3 full row blocks; 2 groups
  [32, 4, 4, "gelu"], // only a tail group
];

Deno.test("q8_0 gemm (WASM relaxed and plain, TS) computes its documented int8 arithmetic on random shapes", async () => {
  for (const [i, [k, n, m, act]] of SHAPES.entries()) {
    const graph = gemmGraph(30 + i, k, n, m, act);
    const r = rng(40 + i);
    const idx = Float32Array.from({ length: n }, (_, j) => (j === 1 ? 0 : 1 + Math.floor(r() * 4)));
    const rows = (graph.nodes.find((nd) => nd.op.kind === "weight" && nd.name === "table")!
      .op as { values: Float32Array }).values;
    const input = new Float32Array(k * n); // the gemm's input: row j = table row idx[j]
    for (let j = 0; j < n; j++) input.set(rows.subarray(idx[j]! * k, idx[j]! * k + k), j * k);
    const variants = [
      { target: "wasm", relaxed: true },
      { target: "wasm", relaxed: false },
      { target: "ts", relaxed: false },
    ] as const;
    const outs: Float32Array[] = [];
    for (const v of variants) {
      const c = compileGraph(graph, { ...v, weights: "q8_0", poisonArena: true });
      const g = c.plan.kernels.find((kk) => kk.kind === "gemm") as GemmKernel;
      assert.ok(g.quant, "the gemm is quantised");
      const want = reference(g, input);
      const mod = await loadEmittedSource(c.source);
      const got = Float32Array.from(mod.predict(idx).probabilities);
      outs.push(got);
      for (let j = 0; j < want.length; j++) {
        const e = Math.abs(got[j]! - want[j]!) / Math.max(1, Math.abs(want[j]!));
        assert.ok(
          e <= TOL,
          `${mod.backend()} ${k}x${n}->${m} ${act} [${j}]: ${got[j]} vs ${want[j]}`,
        );
      }
      const f32 = runGraph(graph, idx);
      for (let j = 0; j < f32.length; j++) {
        assert.ok(Math.abs(got[j]! - f32[j]!) <= QUANT_TOL, `${mod.backend()} vs f32 [${j}]`);
      }
    }
    // Plain WASM and TS round the f32 steps alike: equal, but for gelu (the WASM one is an
    // approximation within 1.2e-7, tests/codegen_gelu_test.ts; TS calls Math.tanh).
    if (act !== "gelu") assert.deepEqual(outs[1], outs[2]);
  }
});

Deno.test("q8_0 leaves a gemm whose k is not whole blocks of 32 in f32, and q4_0 leaves gemms in f32", () => {
  const g = gemmGraph(1, 40, 3, 8, "none");
  const q8 = compileGraph(g, { target: "ts", weights: "q8_0" }).plan.kernels;
  assert.equal((q8.find((kk) => kk.kind === "gemm") as GemmKernel).quant, undefined);
  const g2 = gemmGraph(2, 64, 3, 8, "none");
  const q4 = compileGraph(g2, { target: "ts", weights: "q4_0" }).plan.kernels;
  assert.equal((q4.find((kk) => kk.kind === "gemm") as GemmKernel).quant, undefined);
});
