/**
 * Kernel family `norm`: ggml_norm over ne[0] of each row, `(x - mean) / sqrt(variance + eps)`,
 * with the `* gamma` and `+ beta` that follow it (Keras' LayerNormalization) fused in.
 *
 * The input may be a strided view (e.g. Magika normalises the 384 positions of each of 512
 * features: a transpose of the gathered [384][512] rows): the call reads element i of row j at
 * `base + i * s0 + j * s1` and writes its result at the same place of `dst`, so the transpose
 * back after it is free too (see `outputMap`).
 *
 * @module
 */
import { type Node, numel } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { CompileError, type Strided2d, strided2d, stridedMap } from "./layout.ts";

/** A normalisation of `rows` rows of `n` values (+ gamma, + beta per position i). */
export interface NormKernel extends KernelBase {
  readonly kind: "norm";
  /** Values per normalised row (ne[0]). */
  readonly n: number;
  /** Rows. */
  readonly rows: number;
  /** Where element i of row j is, in `src` and in `dst` (floats). */
  readonly at: Strided2d;
  /** Floats of the `src` (and `dst`) buffer. */
  readonly floats: number;
  readonly eps: number;
  /** Length n, or undefined. */
  readonly gamma?: Float32Array;
  readonly beta?: Float32Array;
}

/**
 * The constant operand of `u` as n values, one per position i (broadcast over rows): a [n]
 * vector, or one value (collapse-bias shrinks a constant vector to that when all are equal).
 */
function rowVector(u: Node, last: Node, n: number, ctx: LowerContext): Float32Array | undefined {
  if (u.src[0] !== last.id) return undefined;
  const c = ctx.nodes[u.src[1]!]!;
  if (c.op.kind !== "weight") return undefined;
  const size = numel(c.ne);
  if (size !== c.ne[0] || (size !== n && size !== 1)) return undefined;
  const v = c.op.values;
  return size === n ? v : new Float32Array(n).fill(v[0]!);
}

function lowerNorm(node: Node, ctx: LowerContext): Lowered<NormKernel> {
  if (node.op.kind !== "norm") throw new Error("unreachable");
  const x = ctx.nodes[node.src[0]!]!;
  const n = x.ne[0], rows = numel(x.ne) / n;
  const at = strided2d(ctx.physicalMap(x.id, node), n, rows);
  if (!at) throw new CompileError(node.name, "norm input must be a strided view of one buffer");
  const src = ctx.valueOf(x.id, node);
  const floats = src.layout.kind === "flat"
    ? src.layout.n
    : src.layout.w * src.layout.h * src.layout.cp;
  let last = node;
  const fused = [node];
  let gamma: Float32Array | undefined, beta: Float32Array | undefined;
  let u = ctx.next(last.id);
  if (u?.op.kind === "mul") {
    gamma = rowVector(u, last, n, ctx);
    if (gamma) [last, u] = [u, ctx.next(u.id)], fused.push(last);
  }
  if (u?.op.kind === "add") {
    beta = rowVector(u, last, n, ctx);
    if (beta) last = u, fused.push(u);
  }
  const dst = ctx.newBuffer(last.name, "activation", floats);
  const kernel: NormKernel = {
    kind: "norm",
    nodes: fused.map((f) => f.name),
    src: src.buf,
    dst,
    n,
    rows,
    at,
    floats,
    eps: node.op.eps,
    ...(gamma ? { gamma } : {}),
    ...(beta ? { beta } : {}),
  };
  return { kernel, last };
}

/** The `norm` family. */
export const norm: KernelDef<NormKernel> = {
  kind: "norm",
  startsAt: ["norm"],
  lower: lowerNorm,
  macs: () => 0,
  auxBuffers: () => [],
  describe: (k) =>
    `norm ${k.rows} rows of ${k.n} (stride ${k.at.s0}, row stride ${k.at.s1}) eps ${k.eps}${
      k.gamma ? " * gamma" : ""
    }${k.beta ? " + beta" : ""}`,
  title: (k) => `norm ${k.rows}x${k.n}${k.gamma ? " * gamma" : ""}${k.beta ? " + beta" : ""}`,
  inputLayout: (k) => ({ kind: "flat", n: k.floats }),
  outputLayout: (k) => ({ kind: "flat", n: k.floats }),
  outputMap: (k) => stridedMap(k.at, k.n, k.rows),
  nonNegativeOutput: () => false,
  constBytes: (k) => (k.gamma?.byteLength ?? 0) + (k.beta?.byteLength ?? 0),
  weightLabel(k, _weight, use) {
    if (use.op.kind === "mul" && k.gamma) return { layout: "gamma f32", bytes: k.gamma.byteLength };
    if (use.op.kind === "add" && k.beta) return { layout: "beta f32", bytes: k.beta.byteLength };
    return undefined;
  },
};
