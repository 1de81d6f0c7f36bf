/**
 * Kernel family `dense`: `mul_mat` of a constant matrix and one vector `[+ add] [+ relu |
 * soft_max]` in one call. The matrix rows are reordered at compile time to the order in which
 * the input buffer holds its values (so a channels-last image or a folded permute needs no copy)
 * and pad lanes get zero rows. The plan pass quantize-weights may put the matrix in a ggml block
 * format ({@link DenseQuant}); the code generators then compute on the blocks.
 *
 * @module
 */
import { type Node, numel } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { CompileError } from "./layout.ts";

/**
 * How a quantised dense kernel computes:
 * - "int8": as ggml's q8_0 x q8_0 / q4_0 x q8_0 vec_dot: the input is quantised per block of 32
 *   to int8 with ggml's quantize_row_q8_0, each block's integer dot product is scaled by
 *   d_w * d_x and the blocks are summed in f32;
 * - "dequant": f32 input times the weights dequantised in registers (q8_0 only).
 */
export type QuantCompute = "int8" | "dequant";

/** A dense kernel's matrix in a block format (set by the plan pass quantize-weights). */
export interface DenseQuant {
  readonly type: "q8_0" | "q4_0";
  readonly compute: QuantCompute;
  /** k rounded up to a multiple of 32. */
  readonly kPad: number;
  /** Blocks per output: kPad / 32. */
  readonly blocks: number;
  /** The integer values, `[m][kPad]` (k fastest): q8_0 -127..127, q4_0 -8..7. */
  readonly q: Int8Array;
  /** Block scales `[m][blocks]`: ggml's f16 `d`, as f32. */
  readonly d: Float32Array;
  /** ggml's block bytes, rows of m one after another (what a GGUF file would store). */
  readonly ggml: Uint8Array;
  /** The input is known to be >= 0 (raw pixels or a relu output): int8 activations are 0..127. */
  readonly nonNegativeInput: boolean;
}

/**
 * mul_mat with a constant matrix (+ bias) (+ relu | soft_max): `out[m] = sum_k x[k] W[k][m]`,
 * where k runs over the input buffer's floats in memory order (the weights were reordered to
 * match the input's layout, pad lanes get zero rows).
 */
export interface DenseKernel extends KernelBase {
  readonly kind: "dense";
  /** Floats read from the input buffer. */
  readonly k: number;
  /** Outputs. */
  readonly m: number;
  /** `[k][m]`, m fastest. */
  readonly weights: Float32Array;
  /** Length m, or undefined. */
  readonly bias?: Float32Array;
  readonly relu: boolean;
  readonly softmax: boolean;
  /** Scratch buffer (k int32) for the indices of the non-zero inputs; -1 for none. */
  scratch: number;
  /** The matrix in a ggml block format (plan pass quantize-weights); absent: f32 `weights`. */
  quant?: DenseQuant;
}

/** Lowers `mul_mat` and the bias, relu or soft_max that follow it. */
function lowerDense(node: Node, ctx: LowerContext): Lowered<DenseKernel> {
  const { nodes } = ctx;
  const w = ctx.weightOf(node.src[0]!, node);
  const x = nodes[node.src[1]!]!;
  if (w.ne[2] !== 1 || w.ne[3] !== 1 || x.ne[1] !== 1 || x.ne[2] !== 1 || x.ne[3] !== 1) {
    throw new CompileError(node.name, "mul_mat must be a matrix times one vector (batch 1)");
  }
  const [K, M] = w.ne;
  const xv = ctx.valueOf(x.id, node);
  const pm = ctx.physicalMap(x.id, node);
  const kPhys = xv.layout.kind === "image" ? xv.layout.w * xv.layout.h * xv.layout.cp : xv.layout.n;
  const wv = (w.op as { values: Float32Array }).values;
  // ggml's [K, M] (K fastest) -> [k][m] with k in the input buffer's physical order.
  const weights = new Float32Array(kPhys * M);
  for (let k = 0; k < K; k++) {
    for (let m = 0; m < M; m++) weights[pm[k]! * M + m] = wv[m * K + k]!;
  }
  let last = node;
  const fused = [node];
  let bias: Float32Array | undefined;
  let relu = false, softmax = false;
  let u = ctx.next(last.id);
  if (u?.op.kind === "add" && u.src[0] === last.id && nodes[u.src[1]!]!.op.kind === "weight") {
    const b = nodes[u.src[1]!]!;
    const bv = (b.op as { values: Float32Array }).values;
    if (numel(b.ne) !== b.ne[0]) throw new CompileError(u.name, "dense bias must be a vector");
    bias = new Float32Array(M).map((_, m) => bv[m % b.ne[0]]!);
    fused.push(u);
    last = u;
    u = ctx.next(last.id);
  }
  if (u?.op.kind === "relu") {
    relu = true;
    fused.push(u);
    last = u;
  } else if (u?.op.kind === "soft_max") {
    softmax = true;
    fused.push(u);
    last = u;
  }
  const dst = ctx.newBuffer(last.name, "activation", M);
  const scratch = ctx.newBuffer(`${node.name}:nonzero`, "scratch", kPhys);
  const kernel: DenseKernel = {
    kind: "dense",
    nodes: fused.map((n) => n.name),
    src: xv.buf,
    dst,
    k: kPhys,
    m: M,
    weights,
    ...(bias ? { bias } : {}),
    relu,
    softmax,
    scratch,
  };
  return { kernel, last };
}

/** The `dense` family. */
export const dense: KernelDef<DenseKernel> = {
  kind: "dense",
  startsAt: ["mul_mat"],
  lower: lowerDense,
  macs: (k) => k.k * k.m,
  auxBuffers: (k) => (k.scratch >= 0 ? [{ use: "scratch", buffer: k.scratch }] : []),
  describe: (k) =>
    `dense ${k.k} -> ${k.m}${k.bias ? " + bias" : ""}${k.relu ? " + relu" : ""}${
      k.softmax ? " + soft_max" : ""
    }`,
  title(k) {
    const parts = [`dense ${k.k}→${k.m}`];
    if (k.bias) parts.push("bias");
    if (k.relu) parts.push("relu");
    if (k.softmax) parts.push("soft_max");
    return parts.join(" + ");
  },
  inputLayout: (k) => ({ kind: "flat", n: k.k }),
  outputLayout: (k) => ({ kind: "flat", n: k.m }),
  nonNegativeOutput: (k) => k.relu || k.softmax,
  constBytes: (k) => k.weights.byteLength + (k.bias?.byteLength ?? 0),
  weightLabel: matrixWeightLabel,
};

/**
 * The picture's label of a matrix kernel's constants (dense, gemm): the `[k][m]` matrix that
 * `mul_mat` read, or the bias that `add` read.
 */
export function matrixWeightLabel(
  k: { readonly weights: Float32Array; readonly bias?: Float32Array },
  weight: Node,
  use: Node,
): { layout: string; bytes: number } | undefined {
  if (use.op.kind === "mul_mat" && use.src[0] === weight.id) {
    return { layout: "[k][m] f32", bytes: k.weights.byteLength };
  }
  if (k.bias && use.op.kind === "add") return { layout: "bias f32", bytes: k.bias.byteLength };
  return undefined;
}
