/**
 * Small code-generation pieces every WASM kernel family uses (direct conv, Winograd, f32 and
 * quantised dense): buffer addresses, one multiply-add step, and the in-place soft_max.
 *
 * @module
 */
import type { Plan } from "../plan/plan.ts";
import { F32, type Fn, I32, OP, SIMD } from "../../wasm/assembler.ts";

/** Byte address of a plan buffer in the arena. */
export function at(plan: Plan, buf: number): number {
  return plan.buffers[buf]!.offset;
}

/**
 * acc = acc + x * w on f32x4 locals: one relaxed-SIMD FMA when `fma`, else mul then add (the
 * plain SIMD128 variant, which rounds twice).
 */
export function madd(f: Fn, acc: number, x: number, w: number, fma: boolean): void {
  if (fma) f.get(x).get(w).get(acc).simd(SIMD.f32x4RelaxedMadd).set(acc);
  else f.get(acc).get(x).get(w).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc);
}

/**
 * In-place soft_max of `n` floats at `dst`, max-subtracted, with the imported f64 `Math.exp`
 * (function 0) so the exponentials round as the interpreter's do.
 */
export function softmax(f: Fn, dst: number, n: number): void {
  const m = f.local(I32), max = f.local(F32), sum = f.local(F32), e = f.local(F32);
  f.f32(-Infinity).set(max);
  f.for(m, 0, n * 4, 4, () => {
    f.get(max).get(m).f32Load(dst).op(OP.f32Max).set(max);
  });
  f.f32(0).set(sum);
  f.for(m, 0, n * 4, 4, () => {
    f.get(m).f32Load(dst).op(OP.f64PromoteF32).get(max).op(OP.f64PromoteF32).op(OP.f64Sub)
      .call(0).op(OP.f32DemoteF64).set(e);
    f.get(m).get(e).f32Store(dst);
    f.get(sum).get(e).op(OP.f32Add).set(sum);
  });
  f.for(m, 0, n * 4, 4, () => {
    f.get(m).get(m).f32Load(dst).get(sum).op(OP.f32Div).f32Store(dst);
  });
}
