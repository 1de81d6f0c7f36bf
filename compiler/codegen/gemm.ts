/**
 * Code for `gemm` calls: `out[n][m] = act(bias[m] + sum_k x[n][k] W[k][m])` over n rows.
 *
 * WASM: the output is cut into blocks of R rows x V f32x4 vectors (R * V accumulators kept in
 * registers: R = 6, V = 2 is 12 accumulators, the V weight vectors and one broadcast input, 15
 * of x64's 16 vector registers; V8 keeps the 16th as its scratch. Measured on Magika's two
 * gemms in Deno (per-kernel timing, 2-core EPYC): 6x2 at 86-89% of the FMA peak without the
 * gelu, against 4x2 77%, 3x3 76%, 2x4 76%, 5x2 64%, and 4x3 / 3x4 (16-17 registers: spills)
 * 45%. The weights are packed per column block as `[block][k][V*4]` (packColumnBlocks), so the
 * inner loop over k streams them contiguously; each step loads V weight vectors and R
 * broadcast inputs and does R * V multiply-adds, unrolled by up to 4 k with constant offsets.
 * Bias and activation (relu, or gelu by {@link geluF32x4}, its constants loaded from a table in
 * the weights) are applied before the store.
 *
 * TS: per row, the bias, then each non-zero input times its weight row, then the activation.
 *
 * @module
 */
import { Fn, I32, OP, V128 } from "../../wasm/assembler.ts";
import type { Plan } from "../plan/plan.ts";
import type { GemmKernel } from "../kernels/gemm.ts";
import { floatIndex, type KernelCodegen } from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at, geluConstants, madd, packColumnBlocks, storeActivated } from "./wasm_shared.ts";
import {
  describeQuantGemm,
  prepareQuantGemm,
  quantGemmFn,
  type QuantGemmPlan,
  quantGemmScratch,
  quantGemmTs,
} from "./gemm_quant.ts";

/** Rows and output vectors per register block. */
const ROWS = 6;
const VECS = 2;

/** Where a gemm's constants are and how its columns are blocked. */
interface GemmPlan {
  /** Byte address of the packed weights and of the bias (padded to mPad; -1: none). */
  readonly w: number;
  readonly bias: number;
  /** Full column blocks of VECS vectors, then one block of `tail` vectors (0: none). */
  readonly blocks: number;
  readonly tail: number;
  /** Byte address of the gelu constants (-1: no gelu). */
  readonly gelu: number;
}

/** The gemm family's code generators. */
export const gemmCodegen: KernelCodegen<GemmKernel, GemmPlan | QuantGemmPlan> = {
  kind: "gemm",
  wasm: {
    scratchBytes: (k) => (k.quant ? quantGemmScratch(k) : 0),
    prepare: (k, blob, base) =>
      k.quant ? prepareQuantGemm(k, blob, base) : prepareGemm(k, blob, base),
    fn: (k, s, fma, ctx) =>
      "quant" in s ? quantGemmFn(ctx.plan, k, s, fma, ctx.scratchAt) : gemmFn(ctx.plan, k, s, fma),
    describe: (k) =>
      k.quant
        ? describeQuantGemm()
        : `gemm, ${ROWS} rows x ${VECS} f32x4 output vectors per register block, packed weight panels`,
  },
  ts: {
    accFloats: () => 0,
    source: (k, plan, blob) => k.quant ? quantGemmTs(k, plan, blob) : gemmTs(k, plan, blob),
    describe: (k) => k.quant ? "gemm q8_0, int8 sums per block" : "gemm over non-zero inputs",
  },
};

function prepareGemm(k: GemmKernel, blob: WeightBlob, base: number): GemmPlan {
  const vecs = k.mPad / 4;
  const blocks = Math.floor(vecs / VECS), tail = vecs % VECS;
  const packed = packColumnBlocks(k.weights, k.k, k.m, VECS, blocks, tail);
  const w = base + blob.add(packed);
  let bias = -1;
  if (k.bias) {
    const padded = new Float32Array(k.mPad);
    padded.set(k.bias);
    bias = base + blob.add(padded);
  }
  const gelu = k.activation === "gelu" ? base + blob.add(geluConstants()) : -1;
  return { w, bias, blocks, tail, gelu };
}

function gemmFn(plan: Plan, k: GemmKernel, s: GemmPlan, fma: boolean): Fn {
  const f = new Fn();
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const rowIn = k.k * 4, rowOut = k.mPad * 4;
  const U = [4, 2, 1].find((u) => k.k % u === 0)!;
  const g = f.local(I32), rb = f.local(I32);
  const wb = f.local(I32), ch = f.local(I32); // block's weights address, its first output byte
  const xp = f.local(I32), wp = f.local(I32), end = f.local(I32), op = f.local(I32);
  const acc = Array.from({ length: ROWS }, () => Array.from({ length: VECS }, () => f.local(V128)));
  const ws = Array.from({ length: VECS }, () => f.local(V128));
  const x = f.local(V128);
  const t: [number, number, number] = [f.local(V128), f.local(V128), f.local(V128)];

  /** R rows (from the row whose byte offset in the input is in `xp`) x V vectors. */
  const block = (R: number, V: number) => {
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) {
        if (s.bias >= 0) f.get(ch).v128Load(s.bias + v * 16);
        else f.f32x4Const(0);
        f.set(acc[r]![v]!);
      }
    }
    f.get(wb).set(wp);
    f.get(xp).addConst(rowIn).set(end); // one row of input ends here
    f.loop(() => {
      for (let u = 0; u < U; u++) {
        for (let v = 0; v < V; v++) f.v128LoadFrom(wp, (u * V + v) * 16).set(ws[v]!);
        for (let r = 0; r < R; r++) {
          f.get(xp).splatLoad(src + r * rowIn + u * 4).set(x);
          for (let v = 0; v < V; v++) madd(f, acc[r]![v]!, x, ws[v]!, fma);
        }
      }
      f.inc(wp, U * V * 16);
      f.get(xp).addConst(U * 4).tee(xp).get(end).op(OP.i32LtS).brIf(0);
    });
    // xp is now one row past the block's first row: back to it, then the output address
    f.get(xp).addConst(-rowIn).i32(rowIn).op(OP.i32DivU).mulConst(rowOut).get(ch).op(OP.i32Add)
      .set(op);
    const block = acc.slice(0, R).map((row) => row.slice(0, V));
    storeActivated(f, block, k.activation, op, dst, rowOut, s.gelu, t, fma);
  };

  /** Every row block for the column block in `wb` / `ch`, V vectors wide. */
  const columns = (V: number) => {
    const full = Math.floor(k.n / ROWS), rest = k.n % ROWS;
    if (full > 0) {
      f.for(rb, 0, full, 1, () => {
        f.index(rb, ROWS * rowIn).set(xp);
        block(ROWS, V);
      });
    }
    if (rest) {
      f.i32(full * ROWS * rowIn).set(xp);
      block(rest, V);
    }
  };

  const panel = k.k * VECS * 16;
  if (s.blocks > 0) {
    f.for(g, 0, s.blocks, 1, () => {
      f.index(g, panel, s.w).set(wb);
      f.index(g, VECS * 16).set(ch);
      columns(VECS);
    });
  }
  if (s.tail) {
    f.i32(s.w + s.blocks * panel).set(wb);
    f.i32(s.blocks * VECS * 16).set(ch);
    columns(s.tail);
  }
  return f;
}

function gemmTs(k: GemmKernel, plan: Plan, blob: WeightBlob): string {
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const w = floatIndex(blob.add(k.weights));
  const b = k.bias ? floatIndex(blob.add(k.bias)) : -1;
  const act = k.activation === "gelu"
    ? `{
        const v = A[o + m]!;
        A[o + m] = 0.5 * v * (1 + Math.tanh(${
      Math.sqrt(2 / Math.PI)
    } * v * (1 + 0.044715 * v * v)));
      }`
    : k.activation === "relu"
    ? "if (A[o + m]! < 0) A[o + m] = 0;"
    : "";
  return `  // gemm: ${k.n} rows of ${k.k} -> ${k.m} (row stride ${k.mPad})${
    k.bias ? " + bias" : ""
  }${k.activation === "none" ? "" : ` + ${k.activation}`}
  for (let n = 0; n < ${k.n}; n++) {
    const o = ${dst} + n * ${k.mPad}, x = ${src} + n * ${k.k};
    for (let m = 0; m < ${k.mPad}; m++) A[o + m] = ${
    b >= 0 ? `m < ${k.m} ? W[${b} + m]! : 0` : "0"
  };
    for (let kk = 0; kk < ${k.k}; kk++) {
      const v = A[x + kk]!;
      if (v === 0) continue;
      const r = ${w} + kk * ${k.m};
      for (let m = 0; m < ${k.m}; m++) A[o + m] = A[o + m]! + v * W[r + m]!;
    }${act ? `\n    for (let m = 0; m < ${k.m}; m++) ${act}` : ""}
  }`;
}
