/**
 * `--weights f16`: the module stores its weights section as IEEE half floats (ggml's F16, round
 * to nearest even, byte-exact with ggml's scalar conversion) and widens it to f32 once, when the
 * module is evaluated, before any kernel runs. WebAssembly has no f16 arithmetic, and widening in
 * the inner loops (integer shifts and a rescale per lane) costs more than the f32 kernels save in
 * memory traffic for these small nets, so the kernels are the f32 ones: the benefit of f16 is the
 * module size (half the weight bytes), not speed. Every weight is rounded, biases and
 * convolution kernels included.
 *
 * @module
 */
import { f32ToF16Bytes } from "../../ggml/quant.ts";

/**
 * The weights section (little-endian f32) as f16 bytes.
 *
 * @param f32 the f32 weights section (length a multiple of 4)
 * @returns half as many bytes
 * @example
 * ```ts
 * import { weightsToF16 } from "./f16_weights.ts";
 * const one = new Uint8Array(new Float32Array([1]).buffer);
 * console.log(weightsToF16(one)); // Uint8Array [0, 60]
 * ```
 */
export function weightsToF16(f32: Uint8Array): Uint8Array {
  return f32ToF16Bytes(new Float32Array(f32.buffer, f32.byteOffset, f32.byteLength / 4));
}

/**
 * TypeScript source of `expandF16(base64): Uint8Array`, the emitted module's widening of the
 * f16 weights section back to f32 bytes (uses the module's own `fromBase64`).
 */
export const EXPAND_F16_SOURCE =
  `/** Widens the f16 weights section (base64) to little-endian f32 bytes, exactly. */
function expandF16(s: string): Uint8Array<ArrayBuffer> {
  const h = fromBase64(s);
  const n = h.length >> 1;
  const out = new Uint8Array(n * 4);
  const bits = new Uint32Array(out.buffer);
  const f = new Float32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = h[2 * i] | (h[2 * i + 1] << 8);
    const sign = (x & 0x8000) << 16, e = (x >> 10) & 31, m = x & 1023;
    if (e === 0) f[i] = (sign ? -m : m) * 5.960464477539063e-8; // zero or subnormal: m * 2^-24
    else if (e === 31) bits[i] = (sign | 0x7f800000 | (m << 13)) >>> 0;
    else bits[i] = (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  }
  return out;
}`;
