/**
 * The scalar formulas of elementwise ops, shared by the reference interpreter and the passes
 * that fold ops into constants at compile time (so a folded constant is bit for bit what the
 * interpreter would have computed at run time).
 *
 * @module
 */

/** sqrt(2 / pi) and the cubic coefficient of the tanh form of gelu (ggml's constants). */
export const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const GELU_COEF_A = 0.044715;

/**
 * gelu, tanh form, in f64: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
 *
 * @param x the input
 * @returns gelu(x) in f64 (the interpreter stores it rounded to f32)
 * @example
 * ```ts
 * import { gelu } from "./scalar_ops.ts";
 * console.log(gelu(0), gelu(1).toFixed(4)); // 0 0.8412
 * ```
 */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * x * (1 + GELU_COEF_A * x * x)));
}
