/**
 * Kernel family `pool1d`: `pool_1d` with one window over the whole of ne[0] (a global max or
 * average per row, Magika's max over its 384 positions). The input may be a strided view, so the
 * transpose before the pool in ggml's graph is never materialised: for Magika the rows are the
 * 256 features and their 384 values sit 256 floats apart, so the code runs SIMD across rows.
 *
 * @module
 */
import { type Node, numel } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { CompileError, type Strided2d, strided2d } from "./layout.ts";

/** A max or average over each of `rows` rows of `n` values. */
export interface Pool1dKernel extends KernelBase {
  readonly kind: "pool1d";
  readonly pool: "max" | "avg";
  /** Values per row (the window). */
  readonly n: number;
  readonly rows: number;
  /** Where element i of row j is in `src`. */
  readonly at: Strided2d;
}

function lowerPool1d(node: Node, ctx: LowerContext): Lowered<Pool1dKernel> {
  if (node.op.kind !== "pool_1d") throw new Error("unreachable");
  const x = ctx.nodes[node.src[0]!]!;
  const n = x.ne[0], rows = numel(x.ne) / n, p = node.op;
  if (node.ne[0] !== 1 || p.p0 !== 0 || p.k0 !== n) {
    throw new CompileError(node.name, "pool_1d is compiled only with one window over all of ne[0]");
  }
  const at = strided2d(ctx.physicalMap(x.id, node), n, rows);
  if (!at) throw new CompileError(node.name, "pool_1d input must be a strided view of one buffer");
  const dst = ctx.newBuffer(node.name, "activation", rows);
  const kernel: Pool1dKernel = {
    kind: "pool1d",
    nodes: [node.name],
    src: ctx.valueOf(x.id, node).buf,
    dst,
    pool: p.pool,
    n,
    rows,
    at,
  };
  return { kernel, last: node };
}

/** The `pool1d` family. */
export const pool1d: KernelDef<Pool1dKernel> = {
  kind: "pool1d",
  startsAt: ["pool_1d"],
  lower: lowerPool1d,
  macs: () => 0,
  auxBuffers: () => [],
  describe: (k) => `pool1d ${k.pool} over ${k.n} (stride ${k.at.s0}) for ${k.rows} rows`,
  title: (k) => `global ${k.pool} pool over ${k.n}`,
  inputLayout: (k) => ({ kind: "flat", n: k.rows * k.n }),
  outputLayout: (k) => ({ kind: "flat", n: k.rows }),
  nonNegativeOutput: (_k, inputNonNegative) => inputNonNegative,
  constBytes: () => 0,
  weightLabel: () => undefined,
};
