/**
 * Kernel family `gather`: `get_rows(T, idx)` of a constant table, ggml's embedding lookup: output
 * row n is table row `idx[n]`. The indices arrive as floats in the arena (Magika's byte tokens
 * 0..256); the code clamps each to the table so a bad index can never read outside it (the
 * module's API refuses such input before it gets here).
 *
 * Layout: the table `[rows][width]` and the output `[count][width]`, both row-major, so each
 * lookup is one contiguous copy.
 *
 * @module
 */
import { type Node, numel } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { CompileError } from "./layout.ts";

/** A row lookup in a constant table. */
export interface GatherKernel extends KernelBase {
  readonly kind: "gather";
  /** Floats per row. */
  readonly width: number;
  /** Rows of the table (valid indices 0..rows-1). */
  readonly rows: number;
  /** Lookups (indices read from `src`). */
  readonly count: number;
  /** `[rows][width]`. */
  readonly table: Float32Array;
}

function lowerGather(node: Node, ctx: LowerContext): Lowered<GatherKernel> {
  const t = ctx.weightOf(node.src[0]!, node);
  const idx = ctx.nodes[node.src[1]!]!;
  const [width, rows] = t.ne;
  if (t.ne[2] !== 1 || t.ne[3] !== 1 || numel(idx.ne) !== idx.ne[0]) {
    throw new CompileError(node.name, "get_rows must gather from a 2-D table by one index vector");
  }
  const count = idx.ne[0];
  const map = ctx.physicalMap(idx.id, node);
  if (!map.every((p, i) => p === i)) {
    throw new CompileError(node.name, "get_rows indices must be a contiguous vector");
  }
  const dst = ctx.newBuffer(node.name, "activation", width * count);
  const kernel: GatherKernel = {
    kind: "gather",
    nodes: [node.name],
    src: ctx.valueOf(idx.id, node).buf,
    dst,
    width,
    rows,
    count,
    table: (t.op as { values: Float32Array }).values,
  };
  return { kernel, last: node };
}

/** The `gather` family. */
export const gather: KernelDef<GatherKernel> = {
  kind: "gather",
  startsAt: ["get_rows"],
  lower: lowerGather,
  macs: () => 0,
  auxBuffers: () => [],
  describe: (k) => `gather ${k.count} rows of ${k.width} from a ${k.rows}x${k.width} table`,
  title: (k) => `gather ${k.count} rows of ${k.width}`,
  inputLayout: (k) => ({ kind: "flat", n: k.count }),
  outputLayout: (k) => ({ kind: "flat", n: k.width * k.count }),
  nonNegativeOutput: (k) => k.table.every((v) => v >= 0),
  constBytes: (k) => k.table.byteLength,
  weightLabel: (k, _weight, use) =>
    use.op.kind === "get_rows"
      ? { layout: "[rows][width] f32", bytes: k.table.byteLength }
      : undefined,
};
