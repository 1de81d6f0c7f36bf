/**
 * Code for `pool2d` calls (max or average pooling that no conv absorbed), both targets: f32x4
 * across channels in WASM, plain loops in TS. Windows are clipped at the borders.
 *
 * @module
 */
import { Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { Plan, PoolKernel } from "../plan/plan.ts";
import { floatIndex, FLT_MAX, FLT_MAX_TEXT, type KernelCodegen } from "./kernel_codegen.ts";
import { at } from "./wasm_shared.ts";

/** The pool2d family's code generators (no constants, no strategy). */
export const pool2dCodegen: KernelCodegen<PoolKernel, null> = {
  kind: "pool2d",
  wasm: {
    scratchBytes: () => 0,
    prepare: () => null,
    fn: (k, _s, _fma, ctx) => poolFn(ctx.plan, k),
    describe: () => "pool, f32x4 across channels",
  },
  ts: {
    accFloats: () => 0,
    source: (k, plan) => poolTs(k, plan),
    describe: () => "pool",
  },
};

function poolFn(plan: Plan, k: PoolKernel): Fn {
  const f = new Fn();
  const I = k.input, O = k.output, p = k.pool;
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const oy = f.local(I32), ox = f.local(I32), c = f.local(I32), op = f.local(I32);
  const x = f.local(I32), y = f.local(I32), r = f.local(V128);
  f.for(oy, 0, O.h, 1, () => {
    f.for(ox, 0, O.w, 1, () => {
      f.get(ox).index(oy, O.w).op(OP.i32Add).mulConst(O.cp * 4).set(op);
      f.for(c, 0, O.cp * 4, 16, () => {
        f.f32x4Const(p.pool === "max" ? -FLT_MAX : 0).set(r);
        for (let wy = 0; wy < p.k1; wy++) {
          for (let wx = 0; wx < p.k0; wx++) {
            f.index(oy, p.s1, wy - p.p1).set(y);
            f.index(ox, p.s0, wx - p.p0).set(x);
            f.get(y).i32(I.h).op(OP.i32LtU).get(x).i32(I.w).op(OP.i32LtU).op(OP.i32And);
            f.if(() => {
              f.get(r);
              f.index(y, I.w).get(x).op(OP.i32Add).mulConst(I.cp * 4)
                .get(c).op(OP.i32Add).v128Load(src);
              f.simd(p.pool === "max" ? SIMD.f32x4Max : SIMD.f32x4Add).set(r);
            });
          }
        }
        f.get(op).get(c).op(OP.i32Add).get(r);
        if (p.pool === "avg") f.f32x4Const(p.k0 * p.k1).simd(SIMD.f32x4Div);
        f.v128Store(dst);
      });
    });
  });
  return f;
}

function poolTs(k: PoolKernel, plan: Plan): string {
  const I = k.input, O = k.output, p = k.pool;
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  return `  // ${p.pool} pool ${p.k0}x${p.k1} stride ${p.s0},${p.s1} pad ${p.p0},${p.p1}: ${I.w}x${I.h}x${I.cp} -> ${O.w}x${O.h}x${O.cp}
  for (let oy = 0; oy < ${O.h}; oy++) {
    for (let ox = 0; ox < ${O.w}; ox++) {
      const o = ${dst} + ${O.cp} * (ox + ${O.w} * oy);
      for (let c = 0; c < ${O.cp}; c++) A[o + c] = ${p.pool === "max" ? `-${FLT_MAX_TEXT}` : "0"};
      for (let wy = 0; wy < ${p.k1}; wy++) {
        const y = oy * ${p.s1} + wy - ${p.p1};
        if (y < 0 || y >= ${I.h}) continue;
        for (let wx = 0; wx < ${p.k0}; wx++) {
          const x = ox * ${p.s0} + wx - ${p.p0};
          if (x < 0 || x >= ${I.w}) continue;
          const i = ${src} + ${I.cp} * (x + ${I.w} * y);
          for (let c = 0; c < ${O.cp}; c++) ${
    p.pool === "max"
      ? "if (!(A[i + c]! <= A[o + c]!)) A[o + c] = A[i + c]!;"
      : "A[o + c] = A[o + c]! + A[i + c]!;"
  }
        }
      }${
    p.pool === "avg"
      ? `\n      for (let c = 0; c < ${O.cp}; c++) A[o + c] = A[o + c]! / ${p.k0 * p.k1};`
      : ""
  }
    }
  }`;
}
