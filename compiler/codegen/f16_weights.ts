/**
 * `--weights f16`: the module stores its weights section as IEEE half floats (ggml's F16, round
 * to nearest even, byte-exact with ggml's scalar conversion) and widens it to f32 once, when the
 * module is evaluated, before any kernel runs (`expandF16` in compiler/emit/runtime/f16.ts).
 * WebAssembly has no f16 arithmetic, and widening in the inner loops (integer shifts and a
 * rescale per lane) costs more than the f32 kernels save in memory traffic for these small nets,
 * so the kernels are the f32 ones: the benefit of f16 is the module size (half the weight
 * bytes), not speed. Every weight is rounded, biases and convolution kernels included.
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
