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
    `gemm ${k.n}x${k.k} @ ${k.k}x${k.m}${k.bias ? " + bias" : ""}${
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
  constBytes: (k) => k.weights.byteLength + (k.bias?.byteLength ?? 0),
  weightLabel(k, weight, use) {
    if (use.op.kind === "mul_mat" && use.src[0] === weight.id) {
      return { layout: "[k][m] f32", bytes: k.weights.byteLength };
    }
    if (k.bias && use.op.kind === "add") return { layout: "bias f32", bytes: k.bias.byteLength };
    return undefined;
  },
};
