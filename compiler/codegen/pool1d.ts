/**
 * Code for `pool1d` calls (one max or average window over each whole row), both targets. WASM:
 * when rows are adjacent in memory (row stride 1, Magika's max over 384 positions of 256
 * features), f32x4 across 4 rows, memory in address order ({@link poolSimdFn}); otherwise scalar.
 *
 * @module
 */
import { F32, Fn, I32, OP, SIMD } from "../../wasm/assembler.ts";
import type { Plan } from "../plan/plan.ts";
import type { Pool1dKernel } from "../kernels/pool1d.ts";
import { floatIndex, FLT_MAX, FLT_MAX_TEXT, type KernelCodegen } from "./kernel_codegen.ts";
import { at } from "./wasm_shared.ts";

/** The pool1d family's code generators. */
export const pool1dCodegen: KernelCodegen<Pool1dKernel, null> = {
  kind: "pool1d",
  wasm: {
    scratchBytes: () => 0,
    prepare: () => null,
    fn: (k, _s, _fma, ctx) => (simdRows(k) ? poolSimdFn : poolScalarFn)(ctx.plan, k),
    describe: (k) =>
      simdRows(k)
        ? "global pool, f32x4 across adjacent rows, memory in address order"
        : "global pool, scalar",
  },
  ts: {
    accFloats: () => 0,
    source: (k, plan) => poolTs(k, plan),
    describe: () => "global pool",
  },
};

/** Rows side by side (row stride 1), in fours, 16-byte aligned: one position of 4 rows is an f32x4. */
function simdRows(k: Pool1dKernel): boolean {
  return k.at.s1 === 1 && k.rows % 4 === 0 && k.at.base % 4 === 0 && k.at.s0 % 4 === 0;
}

/**
 * Rows side by side (Magika: position i of feature j at i * 256 + j): memory in address order,
 * position after position, the running max (or sum) of every row in `dst` (L1), so the input is
 * streamed once; walking 4 rows down all positions (1 KiB steps) was 5x slower.
 */
function poolSimdFn(plan: Plan, k: Pool1dKernel): Fn {
  const f = new Fn();
  const src = at(plan, k.src) + k.at.base * 4, dst = at(plan, k.dst);
  const rowBytes = k.rows * 4, posBytes = k.at.s0 * 4;
  const i = f.local(I32), p = f.local(I32), j = f.local(I32);
  const op = k.pool === "max" ? SIMD.f32x4Max : SIMD.f32x4Add;
  f.for(j, 0, rowBytes, 16, () => f.get(j).get(j).v128Load(src).v128Store(dst)); // position 0
  if (k.n > 1) {
    f.for(i, 1, k.n, 1, () => {
      f.index(i, posBytes).set(p);
      f.for(j, 0, rowBytes, 16, () => {
        f.get(j).get(j).v128Load(dst).get(p).get(j).op(OP.i32Add).v128Load(src).simd(op);
        f.v128Store(dst);
      });
    });
  }
  if (k.pool === "avg") {
    f.for(j, 0, rowBytes, 16, () => {
      f.get(j).get(j).v128Load(dst).f32x4Const(k.n).simd(SIMD.f32x4Div).v128Store(dst);
    });
  }
  return f;
}

function poolScalarFn(plan: Plan, k: Pool1dKernel): Fn {
  const f = new Fn();
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const j = f.local(I32), i = f.local(I32), r = f.local(F32);
  f.for(j, 0, k.rows, 1, () => {
    f.f32(k.pool === "max" ? -FLT_MAX : 0).set(r);
    f.for(i, 0, k.n, 1, () => {
      f.get(r).index(i, k.at.s0 * 4).index(j, k.at.s1 * 4).op(OP.i32Add);
      f.f32Load(src + k.at.base * 4).op(k.pool === "max" ? OP.f32Max : OP.f32Add).set(r);
    });
    f.get(j).mulConst(4).get(r);
    if (k.pool === "avg") f.f32(k.n).op(OP.f32Div);
    f.f32Store(dst);
  });
  return f;
}

function poolTs(k: Pool1dKernel, plan: Plan): string {
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const el = `${k.at.base} + i * ${k.at.s0} + j * ${k.at.s1}`;
  return `  // ${k.pool} over all ${k.n} values of each of ${k.rows} rows
  for (let j = 0; j < ${k.rows}; j++) {
    let r = ${k.pool === "max" ? `-${FLT_MAX_TEXT}` : "0"};
    for (let i = 0; i < ${k.n}; i++) ${
    k.pool === "max"
      ? `r = Math.max(r, A[${src} + ${el}]!);`
      : `r = Math.fround(r + A[${src} + ${el}]!);`
  }
    A[${dst} + j] = ${k.pool === "max" ? "r" : `r / ${k.n}`};
  }`;
}
