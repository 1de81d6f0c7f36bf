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

/**
 * A `[k][m]` matrix re-blocked by output columns for SIMD kernels: `[block][k][width]`, each block
 * `V * 4` columns wide (the last `tail * 4`), columns past m zero. A kernel then streams one
 * block's weights contiguously while it keeps that block's outputs in registers.
 *
 * @param w the matrix, `[k][m]` (m fastest)
 * @param V output vectors (of 4) per full block
 * @param blocks full blocks
 * @param tail vectors of the last, narrower block (0: none)
 * @returns the packed matrix
 */
export function packColumnBlocks(
  w: Float32Array,
  K: number,
  M: number,
  V: number,
  blocks: number,
  tail: number,
): Float32Array {
  const widths = [...Array(blocks).fill(V * 4), ...(tail ? [tail * 4] : [])] as number[];
  const out = new Float32Array(widths.reduce((s, width) => s + width * K, 0));
  let o = 0, m0 = 0;
  for (const width of widths) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < width; j++) {
        const m = m0 + j;
        out[o++] = m < M ? w[k * M + m]! : 0;
      }
    }
    m0 += width;
  }
  return out;
}

/** ln 2 split in two (Cephes' expf): n * LN2_HI is exact for the n that occur (|n| <= 127). */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/**
 * 1.5 * 2^23 + 127: adding it to |t| < 2^22 rounds t to an integer n, and the sum's bits are
 * 0x4B400000 + 127 + n (the f32 exponent field of 2^n in the low 9 bits).
 */
const ROUND_MAGIC = 12582912 + 127;
/** sqrt(2 / pi) and the cubic coefficient of gelu's tanh form (ggml's constants). */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_COEF_A = 0.044715;
/** Taylor coefficients of e^r from r^6 down to r^0 (Horner order). */
const EXP_POLY = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];

/**
 * The constants of {@link geluF32x4}, each as an f32x4 (four equal lanes), in this order. V8
 * rebuilds a `v128.const` with several instructions at every use; a load from this table is one
 * (and stays in L1), so kernels append it to their weights once and pass its address.
 */
const GELU_CONSTANTS = [
  -2 * SQRT_2_OVER_PI * GELU_COEF_A, // 0: c1
  -2 * SQRT_2_OVER_PI, // 1: c0
  -87, // 2 (also the floor of gelu's numerator)
  88, // 3
  Math.LOG2E, // 4
  ROUND_MAGIC, // 5
  -LN2_HI, // 6
  -LN2_LO, // 7
  LN2_HI, // 8
  LN2_LO, // 9
  1, // 10
  ...EXP_POLY, // 11..17
] as const;
/** Index of each constant in the table. */
const C = { c1: 0, c0: 1, lo: 2, hi: 3, log2e: 4, magic: 5, negLn2Hi: 6, negLn2Lo: 7 } as const;
const C_LN2_HI = 8, C_LN2_LO = 9, C_ONE = 10, C_POLY = 11;

/** The table of {@link geluF32x4}'s constants, to append to a kernel's weights (16-byte aligned). */
export function geluConstants(): Float32Array {
  return Float32Array.from(GELU_CONSTANTS.flatMap((c) => [c, c, c, c]));
}

/**
 * gelu (tanh form) of v128 local `x`, pushed on the stack:
 * 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) x (1 + 0.044715 x^2); the second form
 * has no cancellation for x << 0. (ggml's CPU gelu instead rounds x to f16 and reads a table of
 * f16 results; see the IR's `gelu` op.)
 *
 * e^y, y = -2u: y is clamped to [-87, 88] (2^n stays a normal f32: e^-87 ~ 1.6e-38, e^88 ~
 * 1.65e38), so gelu gives x for x >> 0 and ~-1e-37 for x << 0 (the numerator is floored at
 * -87). Then e^y = 2^n e^r with n = round(y / ln 2) by adding 1.5 * 2^23 + 127 (no float -> int
 * conversion), |r| <= ~ln2 / 2, e^r by its Taylor series to r^6 (truncation below 7.5e-8
 * relative), and 2^n built in the exponent bits: bits(n + 1.5 * 2^23 + 127) =
 * 0x4B400000 + 127 + n, which shifted left by 23 are the bits of 2^n for -126 <= n <= 127 (the
 * low 9 bits of 0x4B400000 are 0). pmin/pmax do the clamps (one x64 instruction each; a NaN
 * propagates as their first operand). Max error against f64 gelu: 1.2e-7; of the implied
 * tanh(u) = 2 gelu / x - 1 against Math.tanh: 2.3e-7 (tests/codegen_gelu_test.ts).
 *
 * @param consts byte address of {@link geluConstants} in memory
 * @param t three scratch v128 locals
 * @param fma use the relaxed-SIMD FMA (else mul then add)
 */
export function geluF32x4(
  f: Fn,
  x: number,
  consts: number,
  t: readonly [number, number, number],
  fma: boolean,
): void {
  const [y, n, p] = t;
  const k = (i: number) => f.i32(0).v128Load(consts + 16 * i);
  /** [a, b] on the stack, pushes c: a * b + c */
  const madd = (pushC: () => void) => {
    if (fma) (pushC(), f.simd(SIMD.f32x4RelaxedMadd));
    else (f.simd(SIMD.f32x4Mul), pushC(), f.simd(SIMD.f32x4Add));
  };
  // y = -2u = x (c0 + c1 x^2)
  f.get(x).get(x).simd(SIMD.f32x4Mul);
  k(C.c1);
  madd(() => k(C.c0));
  f.get(x).simd(SIMD.f32x4Mul);
  k(C.lo).simd(SIMD.f32x4Pmax);
  k(C.hi).simd(SIMD.f32x4Pmin).set(y);
  // n + 1.5 * 2^23 + 127 (bits 0x4B400000 + 127 + n), and p = n as a float
  f.get(y);
  k(C.log2e);
  madd(() => k(C.magic));
  f.tee(n);
  k(C.magic).simd(SIMD.f32x4Sub).set(p);
  // r = y - n ln2 in two steps, so r keeps its low bits (kept in y)
  if (fma) {
    f.get(p);
    k(C.negLn2Hi).get(y).simd(SIMD.f32x4RelaxedMadd).set(y);
    f.get(p);
    k(C.negLn2Lo).get(y).simd(SIMD.f32x4RelaxedMadd).set(y);
  } else {
    f.get(y).get(p);
    k(C_LN2_HI).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
    f.get(p);
    k(C_LN2_LO).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(y);
  }
  // e^r by Horner, on the stack
  k(C_POLY);
  for (let i = 1; i < EXP_POLY.length; i++) {
    f.get(y);
    madd(() => k(C_POLY + i));
  }
  // times 2^n from the bits of n + 1.5 * 2^23 + 127
  f.get(n).i32(23).simd(SIMD.i32x4Shl);
  f.simd(SIMD.f32x4Mul).set(p);
  // x / (1 + e^y), x clamped below at -87: for x < -10 gelu is below 1e-37 in magnitude, but
  // x / e^88 (the clamp above) would not be for x < -1e32 (-3e38 gave -1.8)
  f.get(x);
  k(C.lo).simd(SIMD.f32x4Pmax);
  f.get(p);
  k(C_ONE).simd(SIMD.f32x4Add).simd(SIMD.f32x4Div);
}

/**
 * The epilogue of a matrix kernel's register block: each accumulator `acc[r][v]` through the
 * activation, stored at `addr + offset + r * rowBytes + v * 16` (`addr` an i32 local).
 *
 * @param geluAt byte address of the gelu constants ({@link geluConstants}), for "gelu"
 * @param t three scratch v128 locals for gelu
 */
export function storeActivated(
  f: Fn,
  acc: readonly (readonly number[])[],
  activation: "none" | "relu" | "gelu",
  addr: number,
  offset: number,
  rowBytes: number,
  geluAt: number,
  t: readonly [number, number, number],
  fma: boolean,
): void {
  acc.forEach((row, r) => {
    row.forEach((a, v) => {
      f.get(addr);
      if (activation === "gelu") geluF32x4(f, a, geluAt, t, fma);
      else if (activation === "relu") f.get(a).f32x4Const(0).simd(SIMD.f32x4Max);
      else f.get(a);
      f.v128Store(offset + r * rowBytes + v * 16);
    });
  });
}
