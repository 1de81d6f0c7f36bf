/**
 * Kernel family `gemm`: `mul_mat` of a constant matrix and a matrix of activations (many
 * vectors at once, e.g. Magika's 384 positions), `[+ add] [+ gelu | relu]` fused in:
 * `out[n][m] = act(bias[m] + sum_k x[n][k] W[k][m])`.
 *
 * Layouts: the input rows `x[n][k]` row-major (a view is accepted when it is exactly that), the
 * weights `[k][m]` (m fastest), the output `[n][mPad]` row-major with m padded to a multiple of 4
 * (pad lanes hold 0), so the code stores whole f32x4 vectors; `outputMap` tells the next call
 * where each logical element is.
 *
 * @module
 */
import { type Node, numel } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { CompileError, strided2d, stridedMap } from "./layout.ts";

/** The activation fused after the bias. */
export type GemmActivation = "none" | "relu" | "gelu";

/**
 * A gemm's matrix in ggml's q8_0 blocks (plan pass quantize-weights, `--weights q8_0`), computed
 * with int8 dot products. Blocks of 32 run along k for each output m, as ggml quantises a [K, M]
 * matrix along its rows; `q`/`d` are those blocks' values and scales, byte-exact with ggml's
 * quantize_row_q8_0_ref. The activations are quantised at run time per row and block of 32 to 7
 * bits (q = round(x * 63 / amax), -63..63, stored as q + 64 = 1..127: the unsigned "i7" operand
 * of relaxed SIMD's int8 dot product, which has no signed x signed form); each block's integer
 * sum is corrected by 64 * sum(q_w) and scaled by d_x * d_w. That is one bit less than ggml's
 * q8_0 x q8_0 (its x is -127..127): the price of the int8 dot instruction WebAssembly has.
 */
export interface GemmQuant {
  readonly type: "q8_0";
  /** Blocks of 32 along k (k is a multiple of 32). */
  readonly blocks: number;
  /** The integer values, `[m][k]` (k fastest), -127..127. */
  readonly q: Int8Array;
  /** Block scales `[m][blocks]`: ggml's f16 `d`, as f32. */
  readonly d: Float32Array;
  /** ggml's block bytes, rows of m one after another (what a GGUF file would store). */
  readonly ggml: Uint8Array;
}

/** A matrix product over `n` rows of activations. */
export interface GemmKernel extends KernelBase {
  readonly kind: "gemm";
  /** Inner dimension. */
  readonly k: number;
  /** Outputs per row, and that rounded up to a multiple of 4 (the output's row stride). */
  readonly m: number;
  readonly mPad: number;
  /** Rows (vectors of activations). */
  readonly n: number;
  /** `[k][m]`, m fastest. */
  readonly weights: Float32Array;
  /** Length m, or undefined. */
  readonly bias?: Float32Array;
  readonly activation: GemmActivation;
  /** The matrix in q8_0 blocks (plan pass quantize-weights); absent: f32 `weights`. */
  readonly quant?: GemmQuant;
}

function lowerGemm(node: Node, ctx: LowerContext): Lowered<GemmKernel> {
  const { nodes } = ctx;
  const w = ctx.weightOf(node.src[0]!, node);
  const x = nodes[node.src[1]!]!;
  const [K, M] = w.ne;
  const N = numel(x.ne) / K;
  if (w.ne[2] !== 1 || w.ne[3] !== 1) {
    throw new CompileError(node.name, "mul_mat's matrix must be 2-D for the gemm kernel");
  }
  const at = strided2d(ctx.physicalMap(x.id, node), K, N);
  if (!at || at.base !== 0 || at.s0 !== 1 || at.s1 !== K) {
    throw new CompileError(node.name, "mul_mat's activations must be row-major [n][k]");
  }
  const wv = (w.op as { values: Float32Array }).values;
  // ggml's [K, M] (K fastest: one row of K per output m) -> [k][m].
  const weights = new Float32Array(K * M);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) weights[k * M + m] = wv[m * K + k]!;
  }
  let last = node;
  const fused = [node];
  let bias: Float32Array | undefined;
  let activation: GemmActivation = "none";
  let u = ctx.next(last.id);
  if (u?.op.kind === "add" && u.src[0] === last.id) {
    const b = nodes[u.src[1]!]!;
    const size = numel(b.ne);
    // A [M] vector, or one value for all (collapse-bias shrinks an all-equal bias to one).
    if (b.op.kind === "weight" && size === b.ne[0] && (size === M || size === 1)) {
      const bv = b.op.values;
      bias = size === M ? bv : new Float32Array(M).fill(bv[0]!);
      fused.push(u);
      last = u;
      u = ctx.next(last.id);
    }
  }
  if (u?.op.kind === "gelu" || u?.op.kind === "relu") {
    activation = u.op.kind;
    fused.push(u);
    last = u;
  }
  const mPad = Math.ceil(M / 4) * 4;
  const dst = ctx.newBuffer(last.name, "activation", N * mPad);
  const kernel: GemmKernel = {
    kind: "gemm",
    nodes: fused.map((f) => f.name),
    src: ctx.valueOf(x.id, node).buf,
    dst,
    k: K,
    m: M,
    mPad,
    n: N,
    weights,
    ...(bias ? { bias } : {}),
    activation,
  };
  return { kernel, last };
}

/** The `gemm` family: `mul_mat` whose second operand has more than one vector. */
export const gemm: KernelDef<GemmKernel> = {
  kind: "gemm",
  startsAt: ["mul_mat"],
  accepts: (node, nodes) => numel(nodes[node.src[1]!]!.ne) > nodes[node.src[1]!]!.ne[0],
  lower: lowerGemm,
  macs: (k) => k.k * k.m * k.n,
  auxBuffers: () => [],
  describe: (k) =>
    `gemm ${k.n}x${k.k} @ ${k.k}x${k.m}${k.quant ? " (q8_0)" : ""}${k.bias ? " + bias" : ""}${
      k.activation === "none" ? "" : ` + ${k.activation}`
    }`,
  title: (k) =>
    [
      `gemm ${k.n}x${k.k}→${k.m}`,
      ...(k.bias ? ["bias"] : []),
      ...(k.activation === "none" ? [] : [k.activation]),
    ]
      .join(" + "),
  inputLayout: (k) => ({ kind: "flat", n: k.n * k.k }),
  outputLayout: (k) => ({ kind: "flat", n: k.n * k.mPad }),
  outputMap: (k) => stridedMap({ base: 0, s0: 1, s1: k.mPad }, k.m, k.n),
  nonNegativeOutput: (k) => k.activation === "relu",
  constBytes: (k) => (k.quant?.ggml ?? k.weights).byteLength + (k.bias?.byteLength ?? 0),
  weightLabel(k, weight, use) {
    if (use.op.kind === "mul_mat" && use.src[0] === weight.id) {
      return k.quant
        ? { layout: "[m][k] q8_0", bytes: k.quant.ggml.byteLength }
        : { layout: "[k][m] f32", bytes: k.weights.byteLength };
    }
    if (k.bias && use.op.kind === "add") return { layout: "bias f32", bytes: k.bias.byteLength };
    return undefined;
  },
};
