/**
 * Plan pass `quantize-weights`: stores the matrices of the dense kernels in one of ggml's block
 * formats (q8_0 or q4_0), byte-exact with ggml's quantize_row_*_ref, so the code generators can
 * emit kernels that compute on the quantised form. f16 is not a plan pass: it only changes how
 * the module stores its weights (see `compiler/codegen/f16_weights.ts`).
 *
 * Blocks run along k for each output m, as ggml quantises a `[K, M]` mul_mat weight along its
 * rows (ne[0] = K). k is the dense kernel's input order (the plan's physical order, which is
 * the file's order for a flat input such as the FC net's pixels). K is zero-padded to a multiple
 * of 32 (784 -> 800 for the MNIST nets): ggml itself refuses to quantise rows that are not whole
 * blocks, and padding with zeros changes neither a block's scale nor any product.
 *
 * The pass runs on the plan after lowering, so it quantises the weights as the kernels use them:
 * with the graph passes applied (for the MNIST nets: the input's /255 folded into fc1).
 * Convolution weights stay f32 (they are a few percent of the bytes and the conv kernels are
 * register-blocked over f32 lanes). Gemm matrices (Magika) take q8_0 when k is whole blocks of 32
 * ({@link GemmQuant}); with q4_0 they stay f32.
 *
 * @module
 */
import { GgmlType } from "../../ggml/ggml_types.ts";
import { f16BitsToF32, quantize } from "../../ggml/quant.ts";
import { kernelDef } from "../kernels/registry.ts";
import {
  align16,
  type DenseKernel,
  type DenseQuant,
  type GemmKernel,
  type Kernel,
  type Plan,
  type QuantCompute,
  type WeightFormat,
} from "./plan.ts";

export type { DenseQuant, QuantCompute, WeightFormat };

/** The weight formats `--weights` accepts. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["f32", "f16", "q8_0", "q4_0"];

/** Options of {@link quantizeWeights}. */
export interface QuantizeOptions {
  /** Kernel strategy for q8_0 (q4_0 always uses "int8"); default "int8". */
  readonly compute?: QuantCompute;
}

/**
 * Scratch bytes a quantised dense kernel needs: the int8 input (kPad), the activation scales,
 * the list of non-zero blocks and their non-zero elements (int32 each), for either backend.
 */
function scratchBytes(kPad: number): number {
  const blocks = kPad / 32;
  return align16(kPad) + align16(4 * blocks) + 4 * (2 * blocks + kPad) + 64;
}

/** Quantises one dense (or gemm) kernel's `[k][m]` matrix by rows of m. */
export function quantizeDense(
  k: Pick<DenseKernel, "k" | "m" | "weights">,
  type: "q8_0" | "q4_0",
  compute: QuantCompute,
  nonNegativeInput: boolean,
): DenseQuant {
  const kPad = Math.ceil(k.k / 32) * 32, blocks = kPad / 32;
  const gt = type === "q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0;
  const blockBytes = type === "q8_0" ? 34 : 18;
  const q = new Int8Array(k.m * kPad);
  const d = new Float32Array(k.m * blocks);
  const ggml = new Uint8Array(k.m * blocks * blockBytes);
  const row = new Float32Array(kPad);
  for (let m = 0; m < k.m; m++) {
    for (let kk = 0; kk < k.k; kk++) row[kk] = k.weights[kk * k.m + m]!;
    const bytes = quantize(gt, row);
    ggml.set(bytes, m * blocks * blockBytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let b = 0; b < blocks; b++) {
      const p = b * blockBytes;
      d[m * blocks + b] = f16BitsToF32(dv.getUint16(p, true));
      for (let j = 0; j < 32; j++) {
        q[m * kPad + b * 32 + j] = type === "q8_0"
          ? dv.getInt8(p + 2 + j)
          : ((bytes[p + 2 + (j & 15)]! >> (j < 16 ? 0 : 4)) & 15) - 8;
      }
    }
  }
  return {
    type,
    compute: type === "q4_0" ? "int8" : compute,
    kPad,
    blocks,
    q,
    d,
    ggml,
    nonNegativeInput,
  };
}

/**
 * A gemm's matrix in q8_0 ({@link GemmQuant}) when `format` is q8_0 and k is whole blocks of 32;
 * otherwise (q4_0, or a k the blocks do not tile) the gemm keeps f32 weights.
 */
function quantizeGemm(k: GemmKernel, format: "q8_0" | "q4_0"): GemmKernel {
  if (format !== "q8_0" || k.k % 32 !== 0) return k;
  const { blocks, q, d, ggml } = quantizeDense(k, "q8_0", "int8", false);
  return { ...k, quant: { type: "q8_0", blocks, q, d, ggml } };
}

/**
 * Whether the values in buffer `buf` are >= 0 when kernel `before` (which reads them) runs.
 *
 * @param plan the plan
 * @param buf the buffer
 * @param before index of the reading kernel
 * @returns true when every writer chain guarantees values >= 0
 */
export function nonNegative(plan: Plan, buf: number, before: number): boolean {
  if (buf === plan.input) return true; // raw pixels: the module checks 0..255
  for (let i = before - 1; i >= 0; i--) {
    const k: Kernel = plan.kernels[i]!;
    if (k.dst !== buf) continue;
    const def = kernelDef(k);
    // Only ask about the input when the answer can depend on it (a pool).
    return def.nonNegativeOutput(k, false) ||
      (def.nonNegativeOutput(k, true) && nonNegative(plan, k.src, i));
  }
  return false;
}

/**
 * Puts the matrix of every dense kernel in `format` ({@link DenseKernel.quant}) and grows its
 * scratch buffer for the quantised kernels. Run before the memory pass.
 *
 * @param plan a lowered plan (buffers not yet placed); not modified
 * @param format the weight format; "f32" and "f16" leave the plan unchanged
 * @param options the kernel strategy
 * @returns a new plan whose dense kernels carry their quantised matrices
 * @example
 * ```ts ignore
 * const plan = quantizeWeights(lowerToPlan(graph), "q8_0");
 * ```
 */
export function quantizeWeights(
  plan: Plan,
  format: WeightFormat,
  options: QuantizeOptions = {},
): Plan {
  if (format !== "q8_0" && format !== "q4_0") return plan;
  const buffers = [...plan.buffers];
  const kernels = plan.kernels.map((k, i): Kernel => {
    if (k.kind === "gemm") return quantizeGemm(k, format);
    if (k.kind !== "dense") return k;
    const quant = quantizeDense(k, format, options.compute ?? "int8", nonNegative(plan, k.src, i));
    if (k.scratch < 0) throw new Error(`dense kernel ${i} has no scratch buffer`);
    const s = buffers[k.scratch]!;
    const need = scratchBytes(quant.kPad);
    if (s.bytes < need) buffers[k.scratch] = { ...s, bytes: need };
    return { ...k, quant };
  });
  return { ...plan, buffers, kernels };
}
