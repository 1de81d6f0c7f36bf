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

/** ln 2 split in two (Cephes' expf): n * LN2_HI is exact for the n that occur. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;

/**
 * e^y on the f32x4 value on the stack, replaced by the result. y is clamped to [-87, 88] (so
 * 2^n stays a normal f32: e^-87 ~ 1.6e-38, e^88 ~ 1.65e38), then e^y = 2^n e^r with
 * n = round(y / ln 2), |r| <= ln2 / 2, and e^r by its Taylor series to r^6 (truncation error
 * below 1.3e-7 relative); 2^n is built in the exponent bits.
 *
 * @param t three scratch v128 locals
 */
export function expF32x4(f: Fn, t: readonly [number, number, number]): void {
  const [y, n, p] = t;
  f.f32x4Const(-87).simd(SIMD.f32x4Max).f32x4Const(88).simd(SIMD.f32x4Min).set(y);
  f.get(y).f32x4Const(Math.LOG2E).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Nearest).set(n);
  // r = y - n ln2 (in two steps, so r keeps its low bits), kept in y
  f.get(y).get(n).f32x4Const(LN2_HI).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
  f.get(n).f32x4Const(LN2_LO).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(y);
  // p = 1 + r (1 + r (1/2 + r (1/6 + r (1/24 + r (1/120 + r / 720))))), Horner
  f.f32x4Const(1 / 720).set(p);
  for (const c of [1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) {
    f.get(p).get(y).simd(SIMD.f32x4Mul).f32x4Const(c).simd(SIMD.f32x4Add).set(p);
  }
  // 2^n: (n + 127) << 23 as the bits of an f32
  f.get(n).simd(SIMD.i32x4TruncSatF32x4S).i32x4Const([127, 127, 127, 127]).simd(SIMD.i32x4Add);
  f.i32(23).simd(SIMD.i32x4Shl);
  f.get(p).simd(SIMD.f32x4Mul);
}

/** sqrt(2 / pi) and the cubic coefficient of gelu's tanh form (ggml's constants). */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_COEF_A = 0.044715;

/**
 * gelu (tanh form) of v128 local `x`, pushed on the stack:
 * 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) x (1 + 0.044715 x^2).
 * For large |x| the clamp inside {@link expF32x4} gives x (x >> 0) or -0 (x << 0), as gelu does.
 *
 * @param t three scratch v128 locals for the exponential
 */
export function geluF32x4(f: Fn, x: number, t: readonly [number, number, number]): void {
  f.get(x);
  f.get(x).get(x).simd(SIMD.f32x4Mul).f32x4Const(GELU_COEF_A).simd(SIMD.f32x4Mul);
  f.f32x4Const(1).simd(SIMD.f32x4Add).get(x).simd(SIMD.f32x4Mul);
  f.f32x4Const(-2 * SQRT_2_OVER_PI).simd(SIMD.f32x4Mul);
  expF32x4(f, t);
  f.f32x4Const(1).simd(SIMD.f32x4Add).simd(SIMD.f32x4Div);
}
